"""One fetch cycle: fetch the due sources concurrently, then store, log, schedule, cluster and match in one thread."""

from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.models.watch import (
    OUTCOME_ERROR,
    OUTCOME_NEW,
    OUTCOME_NOT_MODIFIED,
    WatchFetchLog,
    WatchItem,
    WatchSource,
)
from portal.services.watch import alerts, plans
from portal.services.watch import items as item_store
from portal.services.watch.fetching import FetchRequest, FetchResult, fetch_all, freshness_seconds, retry_after_seconds
from portal.services.watch.parsing import NotAFeed, parse
from portal.services.watch.settings import WatchSettings

log = logging.getLogger("portal.watch")
LIGHT_BATCH = 200  # answers without a body committed together


@dataclass
class CycleSummary:
    """What one cycle did, for the command line and the worker's log."""

    fetched: int = 0
    not_modified: int = 0
    failed: int = 0
    new_items: int = 0
    matches: int = 0
    new_item_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def due_sources(session: Session, now: datetime, everything: bool = False) -> list[WatchSource]:
    """Sources with a feed that are not paused and whose next fetch time has come (or all of them)."""
    query = select(WatchSource).where(WatchSource.feed_url.is_not(None), WatchSource.paused.is_(False))
    if not everything:
        query = query.where(or_(WatchSource.next_fetch_at.is_(None), WatchSource.next_fetch_at <= now))
    return list(session.scalars(query.order_by(WatchSource.next_fetch_at, WatchSource.id)))


def _base_minutes(source: WatchSource, settings: WatchSettings) -> float:
    if source.interval_minutes:
        return float(source.interval_minutes)
    return source.adaptive_minutes or float(settings.interval_minutes)


def _schedule_success(source: WatchSource, now: datetime, settings: WatchSettings, got_new: bool,
                      server_seconds: int) -> None:
    if not source.interval_minutes:  # adaptive within bounds: faster while it produces, slower while quiet
        factor = 0.8 if got_new else 1.25
        wanted = _base_minutes(source, settings) * factor
        source.adaptive_minutes = min(float(settings.max_interval_minutes),
                                      max(float(settings.min_interval_minutes), wanted))
    source.server_min_seconds = min(server_seconds, settings.max_interval_minutes * 60)
    minutes = max(_base_minutes(source, settings), source.server_min_seconds / 60, settings.min_interval_minutes)
    source.next_fetch_at = now + timedelta(minutes=minutes)


def _fail(source: WatchSource, now: datetime, settings: WatchSettings, message: str, weight: int,
          retry_seconds: int | None = None) -> None:
    source.consecutive_failures += weight
    source.last_error = message[:1000]
    if retry_seconds is not None:
        delay = timedelta(seconds=min(retry_seconds, settings.retry_after_cap_seconds))
    else:  # linear backoff with jitter, so sources that failed together do not retry together
        minutes = _base_minutes(source, settings) * (1 + source.consecutive_failures)
        minutes = min(settings.max_interval_minutes, minutes)
        delay = timedelta(minutes=minutes * random.uniform(1.0, 1.2))  # noqa: S311  (jitter, not security)
    source.next_fetch_at = now + delay
    if source.consecutive_failures >= settings.pause_after_failures and not source.paused:
        source.paused, source.paused_reason = True, f"连续失败 {source.consecutive_failures} 次后自动暂停"
    log.warning("watch source %s (%s): %s", source.id, source.feed_url, message)


def _note_new(source: WatchSource, now: datetime) -> None:
    if source.last_new_item_at is not None:
        gap = (now - source.last_new_item_at).total_seconds()
        previous = source.usual_gap_seconds
        source.usual_gap_seconds = gap if previous is None else 0.7 * previous + 0.3 * gap
    source.last_new_item_at = now


def process(session: Session, source: WatchSource, result: FetchResult, now: datetime,
            settings: WatchSettings, summary: CycleSummary) -> list:
    """Turn one fetch result into stored items, state and a log row; returns the new items."""
    entry = WatchFetchLog(source_id=source.id, at=now, status=result.status, duration_ms=result.duration_ms,
                          outcome=OUTCOME_ERROR)
    source.last_attempt_at, source.last_status = now, result.status
    new: list = []
    if result.error:
        entry.error = result.error
        _fail(source, now, settings, result.error, 1)
    elif result.status == 304:
        entry.outcome = OUTCOME_NOT_MODIFIED
        source.last_modified = result.headers.get("last-modified") or source.last_modified
        source.etag = result.headers.get("etag") or source.etag
        source.consecutive_failures, source.last_error, source.last_success_at = 0, "", now
        _schedule_success(source, now, settings, False, freshness_seconds(result.headers, now))
        summary.not_modified += 1
    elif result.status in (429, 503):
        wait = retry_after_seconds(result.headers.get("retry-after"), now)
        entry.error = f"HTTP {result.status}：服务器要求稍后再试" + (f"（Retry-After {wait} 秒）" if wait else "")
        _fail(source, now, settings, entry.error, 0 if wait else 1, wait)
    elif result.status != 200:
        entry.error = f"HTTP {result.status}"
        _fail(source, now, settings, entry.error, 2 if result.status in (404, 410) else 1)
    else:
        body = result.body or b""
        digest = hashlib.sha256(body).hexdigest()
        has_validators = bool(result.headers.get("etag") or result.headers.get("last-modified"))
        if not has_validators and digest == source.body_hash:
            entry.outcome = OUTCOME_NOT_MODIFIED  # same bytes as last time: nothing to parse
            source.consecutive_failures, source.last_error, source.last_success_at = 0, "", now
            _schedule_success(source, now, settings, False, freshness_seconds(result.headers, now))
            summary.not_modified += 1
        else:
            try:
                parsed = parse(body, result.headers.get("content-type", ""), result.final_url, settings.text_max_chars)
            except NotAFeed as exc:
                entry.error = str(exc)
                _fail(source, now, settings, entry.error, 1)
            else:
                new = item_store.store_entries(session, source, parsed.entries, now)
                entry.outcome, entry.entries, entry.new_items = OUTCOME_NEW, len(parsed.entries), len(new)
                entry.warnings = "\n".join(parsed.warnings)[:4000]
                source.etag, source.last_modified = result.headers.get("etag"), result.headers.get("last-modified")
                source.body_hash = digest
                source.consecutive_failures, source.last_error, source.last_success_at = 0, "", now
                if new:
                    _note_new(source, now)
                server = freshness_seconds(result.headers, now)
                if parsed.ttl_minutes:
                    server = max(server, min(parsed.ttl_minutes, 24 * 60) * 60)
                _schedule_success(source, now, settings, bool(new), server)
                summary.fetched += 1
                for warning in parsed.warnings:
                    log.warning("watch source %s: %s", source.id, warning)
    if entry.outcome == OUTCOME_ERROR:
        summary.failed += 1
        summary.errors.append(f"{source.name}：{entry.error}")
    session.add(entry)
    return new


def run_cycle(session: Session, sources: list[WatchSource], now: datetime, settings: WatchSettings) -> CycleSummary:
    """Fetch the given sources and store what they bring.

    A source whose answer has a body is committed on its own, so one that fails while storing loses nothing else;
    the others (304, errors) change only their schedule and log, and are committed together, in batches.
    """
    summary = CycleSummary()
    requests = [FetchRequest(s.id, s.feed_url or "", s.etag, s.last_modified) for s in sources]
    results = fetch_all(requests, settings)
    by_id = {s.id: s for s in sources}
    new_ids: list[int] = []
    light = 0
    for result in results:
        source = by_id[result.source_id]
        has_body = result.status == 200 and bool(result.body)
        if has_body and light:
            session.commit()  # what came before is safe before this source's storing begins
            light = 0
        try:
            new = process(session, source, result, now, settings, summary)
            ids = [i.id for i in new]  # before the commit expires them
            light += 1
            if has_body or light >= LIGHT_BATCH:
                session.commit()
                light = 0
        except Exception as exc:  # one bad source never loses the cycle
            session.rollback()
            light = 0
            log.exception("watch source %s failed while storing", result.source_id)
            source = session.get(WatchSource, result.source_id)
            if source is not None:
                source.last_attempt_at = now
                _fail(source, now, settings, f"处理失败：{type(exc).__name__}", 1)
                session.add(WatchFetchLog(source_id=source.id, at=now, status=result.status, outcome=OUTCOME_ERROR,
                                          duration_ms=result.duration_ms, error=f"处理失败：{type(exc).__name__}"))
                session.commit()
            summary.failed += 1
            continue
        new_ids.extend(ids)
    session.commit()
    summary.new_items = len(new_ids)
    summary.new_item_ids = new_ids
    summary.matches = settle_waiting(session, now, settings)
    return summary


def settle_waiting(session: Session, now: datetime, settings: WatchSettings) -> int:
    """Cluster the items not in a story yet, match them against the plans, queue the pushes; returns the matches.

    Items stored by a cycle that stopped before this step (a crash, a killed worker) are taken up here too.
    """
    waiting = list(session.scalars(select(WatchItem).where(WatchItem.cluster_id.is_(None)).order_by(WatchItem.id)))
    if not waiting:
        return 0
    index = item_store.load_cluster_index(session, now, settings.cluster_threshold, settings.cluster_window_days)
    item_store.assign_clusters(session, waiting, index)
    matches = plans.apply_plans(session, waiting, plans.build_matcher(session), now)
    alerts.queue_immediate(session, matches, now, settings)  # commits the clusters, matches and pushes together
    return len(matches)


def run_due_fetches(session: Session, now: datetime, settings: WatchSettings, everything: bool = False) -> CycleSummary:
    """One cycle over the due sources (or every source): the worker's periodic task and `flask watch fetch`."""
    return run_cycle(session, due_sources(session, now, everything), now, settings)
