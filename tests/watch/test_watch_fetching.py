"""Fetching works where an event loop already runs in the thread (a browser test session keeps one running)."""

from __future__ import annotations

import asyncio
import threading

from watch_helpers import feed_server

from portal.services.watch.fetching import FetchRequest, fetch_all
from portal.services.watch.settings import WatchSettings


def test_fetch_all_inside_a_running_event_loop():
    results: list = []
    with feed_server() as server:
        url = server.feed("/a.rss", "<rss version='2.0'><channel><title>t</title></channel></rss>")

        async def inside() -> None:
            results.extend(fetch_all([FetchRequest(1, url)], WatchSettings()))

        # A thread of its own, so the loop started here is the only one in it whatever else the session runs.
        thread = threading.Thread(target=asyncio.run, args=(inside(),))
        thread.start()
        thread.join(60)
    assert [r.status for r in results] == [200]
    assert results[0].body.startswith(b"<rss")
