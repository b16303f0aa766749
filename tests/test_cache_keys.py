"""Render-cache keys: one entry per answer the views can give (repeated arguments in order, scheme and host)."""

from __future__ import annotations

import pytest
from bulletin_helpers import open_incident, post_update, spokesperson
from test_api import publish_question


def _numbers(page: str, *numbers: str) -> list[str]:
    return [n for n in numbers if n in page]


def test_repeated_category_in_either_order_are_two_pages_with_two_etags(app, staff):
    help_number = publish_question(app, staff, category="求助", title="解放路路灯不亮何时修")
    ask_number = publish_question(app, staff, category="咨询", title="新生入学需要哪些材料")
    public = app.test_client()
    first = public.get("/questions?category=咨询&category=求助")
    second = public.get("/questions?category=求助&category=咨询")
    assert first.status_code == second.status_code == 200
    # The board reads the first value: each order shows its own category, not the other order's cached page.
    assert _numbers(first.get_data(as_text=True), help_number, ask_number) == [ask_number]
    assert _numbers(second.get_data(as_text=True), help_number, ask_number) == [help_number]
    assert first.headers["ETag"] != second.headers["ETag"]
    # Names in another order still share an entry: that order means nothing to the view.
    again = public.get("/questions?page=1&category=咨询&category=求助")
    same = public.get("/questions?category=咨询&category=求助&page=1")
    assert same.headers.get("X-Render-Cache") == "hit" and same.data == again.data


def test_repeated_department_keeps_its_order_too(app, staff):
    number = publish_question(app, staff, category="求助", title="解放路路灯不亮何时修")  # answered by 交通 (jtj)
    public = app.test_client()
    roads_first = public.get("/questions?department=jtj&department=jyj")
    schools_first = public.get("/questions?department=jyj&department=jtj")
    assert roads_first.status_code == schools_first.status_code == 200
    assert schools_first.headers.get("X-Render-Cache") != "hit"
    assert number in roads_first.get_data(as_text=True) and number not in schools_first.get_data(as_text=True)
    assert roads_first.headers["ETag"] != schools_first.headers["ETag"]


def _feed_for(app, url: str, **headers) -> str:
    return app.test_client().get(url, headers=headers).get_data(as_text=True)


@pytest.fixture
def proxied(make_app, staff):
    """An app behind one proxy with a published update (cached), and one on the same database with no cache."""
    writer = make_app(PROXY_COUNT=1)
    client = spokesperson(writer)
    incident = open_incident(writer, client)
    post_update(writer, client, incident.id, "交通管制已于十时解除。")
    return writer, make_app(PROXY_COUNT=1, CACHE_URL="none")


def test_cached_feed_carries_the_scheme_of_its_own_request(proxied):
    writer, uncached = proxied
    for url in ("/feeds/bulletins.atom", "/news/feed.rss"):
        plain = _feed_for(writer, url, **{"X-Forwarded-Proto": "http"})
        secure = writer.test_client().get(url, headers={"X-Forwarded-Proto": "https"})
        assert "X-Render-Cache" not in secure.headers, url  # not the http request's entry
        assert secure.get_data(as_text=True) == _feed_for(uncached, url, **{"X-Forwarded-Proto": "https"}), url
        assert plain == _feed_for(uncached, url, **{"X-Forwarded-Proto": "http"}), url


def test_cached_feed_carries_the_host_of_its_own_request(proxied):
    writer, uncached = proxied
    url = "/feeds/bulletins.rss"
    _feed_for(writer, url, **{"X-Forwarded-Host": "a.example.cn"})
    other = _feed_for(writer, url, **{"X-Forwarded-Host": "b.example.cn"})
    assert other == _feed_for(uncached, url, **{"X-Forwarded-Host": "b.example.cn"})


def test_pages_behind_the_proxy_get_an_etag_per_scheme(make_app, staff):
    app = make_app(PROXY_COUNT=1)
    public = app.test_client()
    plain = public.get("/questions", headers={"X-Forwarded-Proto": "http"})
    secure = public.get("/questions", headers={"X-Forwarded-Proto": "https"})
    assert plain.headers["ETag"] != secure.headers["ETag"]
