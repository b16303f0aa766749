"""The watch settings as plain values, read once from the app's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WatchSettings:
    """Fetching politeness, storage caps, clustering and alert timing."""

    interval_minutes: int = 10
    min_interval_minutes: int = 5
    max_interval_minutes: int = 360
    concurrency: int = 20
    per_host: int = 2
    timeout_seconds: float = 20.0
    max_bytes: int = 8 * 1024 * 1024
    text_max_chars: int = 256 * 1024
    retry_after_cap_seconds: int = 86400
    pause_after_failures: int = 20
    user_agent: str = "portal-watch/1.0 (+feed reader of a county government office)"
    cluster_threshold: float = 0.3
    cluster_window_days: int = 30
    alert_urls: tuple[str, ...] = field(default_factory=tuple)
    digest_times: tuple[str, ...] = ("08:30", "14:30")
    digest_min_interval_minutes: int = 60
    alert_max_attempts: int = 6


def split_urls(raw: str) -> tuple[str, ...]:
    """Apprise URLs separated by white space or commas."""
    return tuple(u for u in raw.replace(",", " ").split() if u)


def from_config(config: Mapping[str, Any]) -> WatchSettings:
    """Build the settings from PORTAL_WATCH_* values (missing ones keep their defaults)."""
    base = WatchSettings()
    times = tuple(t.strip() for t in str(config.get("WATCH_DIGEST_TIMES", "08:30,14:30")).split(",") if t.strip())
    return WatchSettings(
        interval_minutes=int(config.get("WATCH_INTERVAL_MINUTES", base.interval_minutes)),
        min_interval_minutes=int(config.get("WATCH_MIN_INTERVAL_MINUTES", base.min_interval_minutes)),
        max_interval_minutes=int(config.get("WATCH_MAX_INTERVAL_MINUTES", base.max_interval_minutes)),
        concurrency=int(config.get("WATCH_CONCURRENCY", base.concurrency)),
        per_host=int(config.get("WATCH_PER_HOST", base.per_host)),
        timeout_seconds=float(config.get("WATCH_TIMEOUT_SECONDS", base.timeout_seconds)),
        max_bytes=int(config.get("WATCH_MAX_BYTES", base.max_bytes)),
        text_max_chars=int(config.get("WATCH_TEXT_MAX_CHARS", base.text_max_chars)),
        retry_after_cap_seconds=int(config.get("WATCH_RETRY_AFTER_CAP_SECONDS", base.retry_after_cap_seconds)),
        pause_after_failures=int(config.get("WATCH_PAUSE_AFTER_FAILURES", base.pause_after_failures)),
        cluster_threshold=float(config.get("WATCH_CLUSTER_THRESHOLD", base.cluster_threshold)),
        alert_urls=split_urls(str(config.get("WATCH_ALERT_URLS", "") or "")),
        digest_times=times or base.digest_times,
        digest_min_interval_minutes=int(
            config.get("WATCH_DIGEST_MIN_INTERVAL_MINUTES", base.digest_min_interval_minutes)
        ),
    )
