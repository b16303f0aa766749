"""Re-checking handled items and their answers on the platforms (the worker's periodic step): still online?
A post or answer that is gone (404 / 410) is marked with the time it was found gone."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.models import WatchItem
from portal.models.watch_loop import ITEM_ASSIGNED, ITEM_CLOSED, ITEM_RESPONDED, WatchAnswer
from portal.services import audit
from portal.services.watch.fetching import FetchRequest, fetch_all
from portal.services.watch.settings import WatchSettings

GONE_STATUSES = (404, 410)
RECHECK_EVERY = timedelta(hours=6)
BATCH = 50
HANDLED = (ITEM_ASSIGNED, ITEM_RESPONDED, ITEM_CLOSED)


def _due(session: Session, now: datetime) -> tuple[list[WatchItem], list[WatchAnswer]]:
    stale = now - RECHECK_EVERY
    items = list(session.scalars(
        select(WatchItem).where(
            WatchItem.status.in_(HANDLED), WatchItem.gone_at.is_(None), WatchItem.url.like("http%"),
            or_(WatchItem.checked_at.is_(None), WatchItem.checked_at < stale),
        ).order_by(WatchItem.checked_at.is_not(None), WatchItem.checked_at, WatchItem.id).limit(BATCH)
    ))
    answers = list(session.scalars(
        select(WatchAnswer).where(
            WatchAnswer.gone_at.is_(None), or_(WatchAnswer.checked_at.is_(None), WatchAnswer.checked_at < stale),
        ).order_by(WatchAnswer.checked_at.is_not(None), WatchAnswer.checked_at, WatchAnswer.id).limit(BATCH)
    ))
    return items, answers


def recheck_due(session: Session, now: datetime, settings: WatchSettings) -> int:
    """Fetch the handled items and answers not checked for a while; mark those gone. Returns how many gone."""
    items, answers = _due(session, now)
    targets: list[WatchItem | WatchAnswer] = [*items, *answers]
    if not targets:
        return 0
    results = fetch_all([FetchRequest(source_id=i, url=t.url) for i, t in enumerate(targets)], settings)
    gone = 0
    for target, result in zip(targets, results, strict=True):
        is_item = isinstance(target, WatchItem)
        if result.status in GONE_STATUSES:
            target.gone_at = now
            target.checked_at = now
            gone += 1
            audit.record(session, None, "watch.gone", "watch_item", target.id if is_item else target.item_id,
                         what="原帖" if is_item else "回应", url=target.url, status=result.status)
        elif result.status is not None and result.status < 400:
            target.checked_at = now
            if not is_item:
                target.check_error = ""
        else:  # a server error or no answer says nothing about deletion: try again next round
            target.checked_at = now
            if not is_item:
                target.check_error = (result.error or f"HTTP {result.status}")[:500]
    session.commit()
    return gone
