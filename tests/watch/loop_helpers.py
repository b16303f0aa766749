"""Building watched sources and items straight in the database for the handling, ledger and statistics tests."""

from __future__ import annotations

from datetime import datetime

from portal.models import WatchCluster, WatchItem, WatchSighting, WatchSource
from portal.services.watch.textclean import content_hash

_counter = iter(range(1, 10**9))


def make_source(session, name: str, platform: str, department_id: int | None, feed_url: str | None = None):
    """A source assigned to a department (feed_url None: patrolled by hand)."""
    source = WatchSource(name=name, platform=platform, department_id=department_id, feed_url=feed_url,
                         html_url="http://bbs.example/")
    session.add(source)
    session.flush()
    return source


def make_item(session, source, title: str, first_seen: datetime, text: str = "", url: str | None = None,
              cluster: WatchCluster | None = None, department_id: int | None = None):
    """A watched item first seen at `first_seen` on `source` (with its sighting), optionally in a cluster."""
    n = next(_counter)
    item = WatchItem(source_id=source.id, url=url or f"http://bbs.example/thread-{n}.html", url_key=f"k{n}-{title}"[:500],
                     content_hash=content_hash(title, text or title), title=title, text=text or title,
                     first_seen_at=first_seen, department_id=department_id or source.department_id,
                     cluster_id=cluster.id if cluster else None)
    session.add(item)
    session.flush()
    session.add(WatchSighting(item_id=item.id, source_id=source.id, seen_at=first_seen, url=item.url))
    session.flush()
    return item


def sight(session, item, source, when: datetime) -> None:
    """The same item seen on another source too."""
    session.add(WatchSighting(item_id=item.id, source_id=source.id, seen_at=when, url=item.url))
    session.flush()
