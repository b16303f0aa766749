"""Watched items as JSON Lines: one object a line, plain text only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.models.watch import WatchItem, WatchMatch
from portal.timeutil import to_beijing


def _iso(value: datetime | None) -> str | None:
    return to_beijing(value).isoformat(timespec="seconds") if value else None


def item_record(item: WatchItem) -> dict:
    """The export's fields for one item."""
    return {
        "id": item.id, "source": item.source.name, "platform": item.source.platform, "region": item.source.region,
        "url": item.url, "title": item.title, "author": item.author, "published_at": _iso(item.published_at),
        "first_seen_at": _iso(item.first_seen_at), "cluster": item.cluster_id,
        "plans": sorted(m.plan.name for m in item.matches), "severity": item.severity or None,
    }


def jsonl_lines(session: Session, since: datetime | None = None, batch: int = 1000) -> Iterator[str]:
    """Every item (or those first seen since a time), oldest first, as JSON lines; read in batches."""
    last_id = 0
    while True:
        query = select(WatchItem).where(WatchItem.id > last_id).options(
            selectinload(WatchItem.matches).joinedload(WatchMatch.plan)).order_by(WatchItem.id).limit(batch)
        if since is not None:
            query = query.where(WatchItem.first_seen_at >= since)
        rows = list(session.scalars(query))
        if not rows:
            return
        for item in rows:
            yield json.dumps(item_record(item), ensure_ascii=False)
        last_id = rows[-1].id
