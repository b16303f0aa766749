"""Storing entries as watched items, once each: by GUID, then by URL without tracking, then by content; clusters."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models.watch import WatchCluster, WatchItem, WatchSighting, WatchSource
from portal.services.watch import clusters
from portal.services.watch.parsing import Entry
from portal.services.watch.textclean import clip_key, content_hash, url_key

FUTURE_SLACK = timedelta(days=1)


def guid_keys(source: WatchSource, entries: list[Entry]) -> list[str | None]:
    """A global key per entry's GUID: URL-like GUIDs as they are; others scoped to the feed; repeats with the link."""
    counts = Counter(e.guid for e in entries if e.guid)
    keys: list[str | None] = []
    for e in entries:
        if not e.guid:
            keys.append(None)
            continue
        key = e.guid if "://" in e.guid or e.guid.startswith(("tag:", "urn:")) else f"{source.feed_url}#{e.guid}"
        if counts[e.guid] > 1:  # one document gives two different items the same GUID: keep both
            key = f"{key}|{e.url}"
        keys.append(clip_key(key))
    return keys


def _existing(session: Session, guids: set[str], urls: set[str], hashes: set[str]) -> tuple[dict, dict, dict]:
    by_guid: dict[str, WatchItem] = {}
    by_url: dict[str, WatchItem] = {}
    by_hash: dict[str, WatchItem] = {}
    if guids:
        for item in session.scalars(select(WatchItem).where(WatchItem.guid_key.in_(guids))):
            by_guid[item.guid_key] = item
    if urls:
        for item in session.scalars(select(WatchItem).where(WatchItem.url_key.in_(urls))):
            by_url.setdefault(item.url_key, item)
    if hashes:
        for item in session.scalars(
            select(WatchItem).where(WatchItem.content_hash.in_(hashes), WatchItem.guid_key.is_(None),
                                    WatchItem.url_key.is_(None))
        ):
            by_hash.setdefault(item.content_hash, item)
    return by_guid, by_url, by_hash


def store_entries(session: Session, source: WatchSource, entries: list[Entry], now: datetime) -> list[WatchItem]:
    """Add the entries not stored yet (and a sighting for those seen on this source first); returns the new items."""
    keys = guid_keys(source, entries)
    urls = [url_key(e.url) for e in entries]
    hashes = [content_hash(e.title, e.text) for e in entries]
    by_guid, by_url, by_hash = _existing(session, {k for k in keys if k}, {u for u in urls if u}, set(hashes))
    seen_here = {
        item_id for (item_id,) in session.execute(
            select(WatchSighting.item_id).where(WatchSighting.source_id == source.id)
        )
    } if by_guid or by_url or by_hash else set()
    new: list[WatchItem] = []
    for entry, gkey, ukey, chash in zip(entries, keys, urls, hashes, strict=True):
        # The content hash stands in only for entries with neither GUID nor link: two posts may say the same.
        item = (by_guid.get(gkey) if gkey else None) or (by_url.get(ukey) if ukey else None)
        if item is None and not gkey and not ukey:
            item = by_hash.get(chash)
        if item is not None:
            if item.id not in seen_here and item.source_id != source.id:
                session.add(WatchSighting(item=item, source_id=source.id, seen_at=now, url=entry.url))
                seen_here.add(item.id)
            continue
        published, claimed = entry.published_at, None
        if published is not None and published > now + FUTURE_SLACK:  # a pinned post dated 2099: not believed
            published, claimed = now, entry.published_at
        item = WatchItem(
            source_id=source.id, guid_key=gkey, url_key=ukey, content_hash=chash, url=entry.url, title=entry.title,
            text=entry.text, text_truncated=entry.text_truncated, author=entry.author, published_at=published,
            claimed_published_at=claimed, first_seen_at=now, department_id=source.department_id,
            minhash=clusters.to_bytes(clusters.signature(entry.title, entry.text)),
        )
        session.add(item)
        session.add(WatchSighting(item=item, source_id=source.id, seen_at=now, url=entry.url))
        if gkey:
            by_guid[gkey] = item
        if ukey:
            by_url[ukey] = item
        if not gkey and not ukey:
            by_hash[chash] = item
        new.append(item)
    session.flush()
    return new


def load_cluster_index(session: Session, now: datetime, threshold: float, window_days: int) -> clusters.ClusterIndex:
    """The signatures of the items first seen within the window, with their clusters."""
    index = clusters.ClusterIndex(threshold)
    rows = session.execute(
        select(WatchItem.id, WatchItem.minhash, WatchItem.cluster_id).where(
            WatchItem.first_seen_at >= now - timedelta(days=window_days), WatchItem.minhash.is_not(None),
            WatchItem.cluster_id.is_not(None),
        )
    )
    index.add_many((r.id, r.minhash, r.cluster_id) for r in rows)
    return index


def assign_clusters(session: Session, items: list[WatchItem], index: clusters.ClusterIndex) -> None:
    """Put each new item into the cluster of its nearest near-duplicate, or a cluster of its own (one flush)."""
    for item in items:
        if item.cluster_id is not None or item.minhash is None:
            continue
        sig = clusters.from_bytes(item.minhash)
        nearest, _sim = index.nearest(sig)
        target = index.cluster_of.get(nearest) if nearest is not None else None
        if target is None:
            target = WatchCluster(first_seen_at=item.first_seen_at, title=item.title[:500])
            session.add(target)
        if isinstance(target, WatchCluster):  # new in this batch: its id comes with the flush
            item.cluster = target
        else:
            item.cluster_id = target
        index.add(item.id, sig, target)
    session.flush()


def cluster_platforms(cluster: WatchCluster) -> list[tuple[str, str, datetime]]:
    """Every source where the story appeared: (source name, platform, first seen there), earliest first."""
    seen: dict[int, tuple[str, str, datetime]] = {}
    for item in cluster.items:
        for sighting in item.sightings:
            src = sighting.source
            if src.id not in seen or sighting.seen_at < seen[src.id][2]:
                seen[src.id] = (src.name, src.platform, sighting.seen_at)
    return sorted(seen.values(), key=lambda row: row[2])
