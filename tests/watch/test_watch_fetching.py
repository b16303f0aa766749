"""Fetching from a thread that already runs an event loop (an async host, or a test tool such as Playwright's sync
API, which keeps one running): the cycle must still fetch, not fail with "cannot be called from a running loop"."""

from __future__ import annotations

import asyncio

from watch_helpers import feed_server, rss

from portal.services.watch.fetching import FetchRequest, fetch_all
from portal.services.watch.settings import WatchSettings


def test_fetch_all_works_inside_a_running_event_loop():
    with feed_server() as server:
        url = server.feed("/a.xml", rss("甲", [{"title": "一条", "link": "http://x.example/1"}]))

        async def inside_a_loop():
            return fetch_all([FetchRequest(source_id=1, url=url)], WatchSettings())

        (result,) = asyncio.run(inside_a_loop())
    assert result.status == 200 and result.error == ""
    assert "一条" in result.body.decode("utf-8")


def test_fetch_all_works_without_a_loop_too():
    with feed_server() as server:
        url = server.feed("/b.xml", rss("乙", [{"title": "两条", "link": "http://x.example/2"}]))
        (result,) = fetch_all([FetchRequest(source_id=2, url=url)], WatchSettings())
    assert result.status == 200 and "两条" in result.body.decode("utf-8")
