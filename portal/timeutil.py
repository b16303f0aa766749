"""Times: stored in UTC, shown in Beijing time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_beijing(value: datetime) -> datetime:
    """Convert an aware (or naive UTC) datetime to Beijing time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(BEIJING)


MONTH_YEARS = (1990, 2100)


def parse_month(text: str | None) -> datetime | None:
    """The start (Beijing time) of a month typed as YYYY-MM, years 1990-2100; None when `text` is not one."""
    text = (text or "").strip()
    if len(text) != 7 or not text.isascii():
        return None
    try:
        start = datetime.strptime(text, "%Y-%m").replace(tzinfo=BEIJING)
    except ValueError:
        return None
    return start if MONTH_YEARS[0] <= start.year <= MONTH_YEARS[1] else None


def month_range(month: str) -> tuple[datetime, datetime]:
    """UTC [start, end) bounds of the Beijing calendar month `month` (YYYY-MM); ValueError when it is not one."""
    start = parse_month(month)
    if start is None:
        raise ValueError(f"not a month: {month!r}")
    end = (start + timedelta(days=32)).replace(day=1)
    return start.astimezone(UTC), end.astimezone(UTC)


def beijing_day_utc(day: date, end: bool = False) -> datetime:
    """Naive UTC of the first instant of Beijing day `day`, or with `end` of the day after (an exclusive end)."""
    moment = datetime.combine(day + timedelta(days=1) if end else day, time(0), BEIJING)
    return moment.astimezone(UTC).replace(tzinfo=None)


def parse_local(text: str) -> datetime:
    """Parse an ISO 8601 time; a time without offset is taken as Beijing time. Returns aware UTC."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=BEIJING)
    return value.astimezone(UTC)


def format_duration(delta: timedelta) -> str:
    """A human duration in Chinese: 3天4小时, 5小时20分钟, 12分钟."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{mins}分钟" if mins else f"{hours}小时"
    return f"{mins}分钟"
