"""Pages found by hand (人工发现): the request records the URL; the worker fetches it and makes it a watched item."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.errors import NotFound, ValidationFailed
from portal.models import StaffUser
from portal.models.watch import (
    CAPTURE_DONE,
    CAPTURE_FAILED,
    CAPTURE_PENDING,
    WatchCapture,
    WatchItem,
    WatchSighting,
    WatchSource,
)
from portal.services import audit
from portal.services.watch import items as item_store
from portal.services.watch.cycle import settle_waiting
from portal.services.watch.fetching import FetchRequest, FetchResult, fetch_all, retry_after_seconds
from portal.services.watch.pages import ACCEPT_HTML, NotAPage, extract
from portal.services.watch.parsing import Entry
from portal.services.watch.settings import WatchSettings
from portal.services.watch.textclean import url_key

log = logging.getLogger("portal.watch")
URL_MAX = 2000
MAX_ATTEMPTS = 4
BATCH = 50
GONE = {401: "需要登录", 403: "禁止访问", 404: "页面不存在或已删除", 410: "页面已删除", 451: "因法律原因不可访问"}


@dataclass
class CaptureSummary:
    """What one run of the capture step did."""

    done: int = 0
    retrying: int = 0
    failed: int = 0
    new_items: int = 0


def _guess_source(session: Session, url: str) -> int | None:
    """The one source whose page or feed is on the pasted URL's host, if exactly one is."""
    host = urlsplit(url).netloc.lower()
    found = {s.id for s in session.scalars(select(WatchSource)) for u in (s.html_url, s.feed_url or "")
             if u and urlsplit(u).netloc.lower() == host}
    return found.pop() if len(found) == 1 else None


def submit(session: Session, actor: StaffUser | None, url: str, source_id: int | None, now: datetime) -> WatchCapture:
    """Record a pasted URL for the worker to fetch; no outside connection is made here."""
    url = url.strip()
    reasons: dict[str, str] = {}
    key = url_key(url) if len(url) <= URL_MAX else None
    if not url:
        reasons["url"] = "请粘贴网页地址。"
    elif len(url) > URL_MAX:
        reasons["url"] = f"网址不能超过 {URL_MAX} 个字符。"
    elif key is None:
        reasons["url"] = "网址应以 http:// 或 https:// 开头。"
    if source_id is None and key is not None:
        source_id = _guess_source(session, url)
        if source_id is None:
            reasons["source_id"] = "请选择这条信息所在的信息源。"
    elif source_id is not None and session.get(WatchSource, source_id) is None:
        reasons["source_id"] = "所选信息源不存在。"
    if key is not None and not reasons:
        waiting = session.scalar(select(WatchCapture.id).where(WatchCapture.url_key == key,
                                                               WatchCapture.status == CAPTURE_PENDING))
        if waiting is not None:
            reasons["url"] = "这个网址已经提交，正在等待抓取。"
    if reasons:
        raise ValidationFailed(reasons)
    capture = WatchCapture(url=url, url_key=key, source_id=source_id, submitted_by_id=actor.id if actor else None,
                           created_at=now, next_attempt_at=now, status=CAPTURE_PENDING)
    session.add(capture)
    session.flush()
    audit.record(session, actor, "watch.capture.submit", "watch_capture", capture.id, url=url[:300])
    session.commit()
    return capture


def get_capture(session: Session, capture_id: int) -> WatchCapture:
    capture = session.get(WatchCapture, capture_id)
    if capture is None:
        raise NotFound("没有这条人工发现记录。")
    return capture


def recent_captures(session: Session, limit: int = 50) -> list[WatchCapture]:
    """The latest pasted URLs, newest first."""
    return list(session.scalars(select(WatchCapture).order_by(WatchCapture.created_at.desc(), WatchCapture.id.desc())
                                .limit(limit)))


def retry(session: Session, actor: StaffUser | None, capture: WatchCapture, now: datetime) -> None:
    """Queue a failed capture again."""
    if capture.status != CAPTURE_FAILED:
        raise ValidationFailed({"capture": "只有抓取失败的记录可以重试。"})
    capture.status, capture.attempts, capture.next_attempt_at = CAPTURE_PENDING, 0, now
    audit.record(session, actor, "watch.capture.retry", "watch_capture", capture.id)
    session.commit()


def _give_up_or_wait(capture: WatchCapture, now: datetime, message: str, summary: CaptureSummary,
                     final: bool = False, wait_seconds: int | None = None) -> None:
    capture.last_error = message[:1000]
    if final or capture.attempts >= MAX_ATTEMPTS:
        capture.status = CAPTURE_FAILED
        summary.failed += 1
        return
    delay = wait_seconds if wait_seconds is not None else 60 * 2 ** capture.attempts
    capture.next_attempt_at = now + timedelta(seconds=delay)
    summary.retrying += 1


def _store(session: Session, capture: WatchCapture, page, summary: CaptureSummary) -> None:
    """The page as a watched item: an item already known by this URL keeps its text and gets the snapshot."""
    keys = {capture.url_key, url_key(capture.final_url) or capture.url_key}
    item = session.scalar(select(WatchItem).where(WatchItem.url_key.in_(keys)).order_by(WatchItem.id).limit(1))
    if item is not None:
        if not item.snapshot:
            item.snapshot = page.snapshot
        seen = session.scalar(select(WatchSighting.id).where(WatchSighting.item_id == item.id,
                                                             WatchSighting.source_id == capture.source_id))
        if seen is None and item.source_id != capture.source_id:
            session.add(WatchSighting(item_id=item.id, source_id=capture.source_id, seen_at=capture.created_at,
                                      url=capture.url))
    else:
        entry = Entry(guid=None, url=capture.url, title=page.title, text=page.text, text_truncated=page.text_truncated,
                      author=page.author, published_at=page.published_at)
        # First seen when the commentator found it, not when the worker got round to it.
        item = item_store.store_entries(session, capture.source, [entry], capture.created_at)[0]
        item.by_hand, item.snapshot = True, page.snapshot
        summary.new_items += 1
    session.flush()
    capture.item_id, capture.status, capture.last_error = item.id, CAPTURE_DONE, "；".join(page.warnings)[:1000]
    summary.done += 1


def _process(session: Session, capture: WatchCapture, result: FetchResult, now: datetime,
             settings: WatchSettings, summary: CaptureSummary) -> None:
    capture.attempts += 1
    capture.http_status, capture.final_url = result.status, result.final_url
    if result.error:
        _give_up_or_wait(capture, now, result.error, summary, final=result.error.startswith("内容超过上限"))
    elif result.status in (429, 503):
        wait = retry_after_seconds(result.headers.get("retry-after"), now)
        wait = min(wait, settings.retry_after_cap_seconds) if wait is not None else None
        _give_up_or_wait(capture, now, f"HTTP {result.status}：服务器要求稍后再试", summary, wait_seconds=wait)
    elif result.status in GONE:
        _give_up_or_wait(capture, now, f"HTTP {result.status}：{GONE[result.status]}", summary, final=True)
    elif result.status != 200:
        _give_up_or_wait(capture, now, f"HTTP {result.status}", summary)
    else:
        try:
            page = extract(result.body or b"", result.headers.get("content-type", ""), result.final_url,
                           capture.source.extract_selector, settings.text_max_chars)
        except NotAPage as exc:
            _give_up_or_wait(capture, now, str(exc), summary, final=True)
        else:
            capture.fetched_at = now
            _store(session, capture, page, summary)
    if capture.status != CAPTURE_PENDING:
        audit.record(session, None, f"watch.capture.{capture.status}", "watch_capture", capture.id,
                     item_id=capture.item_id, error=capture.last_error[:200])


def run_due_captures(session: Session, now: datetime, settings: WatchSettings) -> CaptureSummary:
    """Fetch the pasted URLs whose time has come (the worker's periodic step, and `flask watch fetch`)."""
    summary = CaptureSummary()
    due = list(session.scalars(select(WatchCapture).where(
        WatchCapture.status == CAPTURE_PENDING,
        or_(WatchCapture.next_attempt_at <= now, WatchCapture.next_attempt_at.is_(None)),
    ).order_by(WatchCapture.next_attempt_at, WatchCapture.id).limit(BATCH)))
    if not due:
        return summary
    # The fetcher's politeness and limits are the feeds'; its "source id" carries the capture's id here.
    results = fetch_all([FetchRequest(c.id, c.url, accept=ACCEPT_HTML) for c in due], settings)
    by_id = {c.id: c for c in due}
    for result in results:
        capture = by_id[result.source_id]
        try:
            _process(session, capture, result, now, settings, summary)
            session.commit()
        except Exception as exc:  # one bad page never stops the others
            session.rollback()
            log.exception("watch capture %s failed while storing", result.source_id)
            capture = session.get(WatchCapture, result.source_id)
            if capture is not None:
                capture.attempts += 1
                _give_up_or_wait(capture, now, f"处理失败：{type(exc).__name__}", summary)
                session.commit()
    if summary.new_items:
        settle_waiting(session, now, settings)
    return summary
