"""Release feeds pass the same strict checks as the bulletin feeds (test_feeds.py's checkers, reused)."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import pytest
from bs4 import BeautifulSoup
from bulletin_helpers import local, spokesperson
from conftest import csrf_token
from press_helpers import new_release, release_row, upload
from test_feeds import XSS, check_atom, check_rss, parse_clean

from portal.models.press import RELEASE_TYPES
from portal.services.press.demo_press import minimal_pdf
from portal.timeutil import utcnow

ALL = ["/news/feed.rss", "/news/feed.atom"]


def type_urls(kind: str) -> list[str]:
    return [f"/news/{kind}/feed.rss", f"/news/{kind}/feed.atom"]


def correct(client, release_id: int, body: str, note: str, **fields):
    token = csrf_token(client, f"/staff/press/releases/{release_id}")
    data = {"csrf_token": token, "title": "", "rumour": "", "body": body, "change_note": note, "submit": "发布更正",
            **fields}
    return client.post(f"/staff/press/releases/{release_id}/correct", data=data)


@pytest.fixture
def releases(app, staff):
    client = spokesperson(app)
    ids = []
    ids.append(new_release(app, client, title="供暖启动", body="县城区集中供暖今日启动。")[1])
    ids.append(new_release(app, client, type="rumour", title="“自来水有毒”系谣言", rumour="网传自来水有毒。",
                           body="经检测，水质全部合格。", topics="辟谣,供水")[1])
    ids.append(new_release(app, client, type="policy", title="解读：冬季取暖补贴", body="补贴标准为每户 300 元。")[1])
    assert upload(client, ids[0], minimal_pdf("t", []), "供暖安排.pdf", "application/pdf").status_code == 303
    assert correct(client, ids[0], "县城区集中供暖今日 18 时启动。", "补充启动时间。").status_code == 303
    return client, ids


def test_every_release_feed_is_strictly_valid(app, releases):
    _client, ids = releases
    public = app.test_client()
    for url in ALL:
        response = public.get(url)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith(
            "application/rss+xml" if url.endswith("rss") else "application/atom+xml")
        parsed = parse_clean(response.data)
        items = check_rss(response.data) if url.endswith("rss") else check_atom(response.data)
        assert len(items) == len(parsed.entries) == 3
        # The corrected release was re-issued: newest, same id, marked 更正, with its note and attachment link.
        top = parsed.entries[0]
        assert top.id.endswith(f"press/release/{ids[0]}") and top.title.startswith("【更正】")
        html = top.get("summary") or top.content[0].value
        assert "补充启动时间" in html and "/attachments/" in html and "http://localhost/attachments/" in html
        rumour = next(e for e in parsed.entries if "谣言" in e.title)
        text = rumour.get("summary") or rumour.content[0].value
        assert "网传自来水有毒" in text and "水质全部合格" in text
    for kind in RELEASE_TYPES:
        for url in type_urls(kind):
            body = public.get(url).data
            parsed = parse_clean(body)
            (check_rss if url.endswith("rss") else check_atom)(body)
            expected = {"news": 1, "rumour": 1, "policy": 1, "notice": 0}[kind]
            assert len(parsed.entries) == expected, url
    assert public.get("/news/unknown/feed.atom").status_code == 404


def test_feed_ids_are_stable_tag_uris(app, releases):
    _client, ids = releases
    parsed = parse_clean(app.test_client().get("/news/feed.atom").data)
    assert parsed.feed.id == "tag:yunxi.example,2026:press/all"
    assert {e.id for e in parsed.entries} == {f"tag:yunxi.example,2026:press/release/{i}" for i in ids}
    entry = next(e for e in parsed.entries if e.id.endswith(f"/{ids[0]}"))
    assert datetime.fromisoformat(entry.updated) > datetime.fromisoformat(entry.published)
    rumour_feed = parse_clean(app.test_client().get("/news/rumour/feed.atom").data)
    assert rumour_feed.feed.id == "tag:yunxi.example,2026:press/rumour"


def test_scheduled_release_enters_the_feed_only_when_due(app, staff):
    client = spokesperson(app)
    _r, release_id = new_release(app, client, title="定时发布的通知", type="notice", when="later",
                                 publish_at=local(utcnow() + timedelta(hours=1)))
    public = app.test_client()
    assert "定时发布的通知" not in public.get("/news/feed.atom").get_data(as_text=True)
    assert public.get(f"/news/{release_row(app, release_id).slug}").status_code == 404
    assert "定时发布的通知" not in public.get("/news").get_data(as_text=True)


def test_conditional_get(app, releases):
    client = app.test_client()
    time.sleep(1.05)
    for url in ALL + type_urls("rumour"):
        first = client.get(url)
        assert first.headers["ETag"] and first.headers["Last-Modified"], url
        assert "public" in first.headers["Cache-Control"] and "Set-Cookie" not in first.headers
        assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
        assert client.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]}).status_code == 304


def test_a_correction_changes_the_etag(app, releases):
    client, ids = releases
    before = app.test_client().get("/news/feed.atom").headers["ETag"]
    assert correct(client, ids[2], "补贴标准为每户 320 元。", "金额更正。").status_code == 303
    assert app.test_client().get("/news/feed.atom", headers={"If-None-Match": before}).status_code == 200


def test_empty_release_feeds_are_valid(app):
    for url in ALL + type_urls("news"):
        body = app.test_client().get(url).data
        assert parse_clean(body).entries == []
        (check_rss if url.endswith("rss") else check_atom)(body)


def test_xss_payloads_are_neutralised_in_release_pages_and_feeds(app, staff):
    client = spokesperson(app)
    slugs = []
    for n, payload in enumerate(XSS):
        kind = "rumour" if n % 2 else "news"
        _r, rid = new_release(app, client, type=kind, title=f"载荷{n}<script>alert(1)</script>",
                              rumour=f"谣言{payload}", body=f"载荷{n}：{payload}", topics=f"话题{n}")
        slugs.append(release_row(app, rid).slug)
    public = app.test_client()
    bodies = []
    for slug in slugs:
        page = BeautifulSoup(public.get(f"/news/{slug}").data, "html.parser")
        bodies.append(page.select_one("article.release"))
    bodies.append(BeautifulSoup(public.get("/news").data, "html.parser").select_one(".release-list"))
    for url in ALL + type_urls("rumour"):
        raw = public.get(url).data
        assert b"<script" not in raw  # titles and content are escaped XML text
        for entry in parse_clean(raw).entries:
            bodies.append(BeautifulSoup(entry.content[0].value if "content" in entry else entry.summary,
                                        "html.parser"))
    for body in bodies:
        assert body is not None
        assert body.find(["script", "iframe", "object", "embed", "svg", "form", "style"]) is None
        for tag in body.find_all(True):
            for name, value in tag.attrs.items():
                assert not name.startswith("on"), (tag, name)
                assert name != "style", tag
                if name in ("href", "src", "action"):
                    compact = re.sub(r"[\x00-\x20]", "", str(value)).lower()
                    assert not compact.startswith(("javascript:", "data:", "vbscript:")), tag


def test_news_pages_advertise_the_feeds(app, releases):
    html = app.test_client().get("/news").get_data(as_text=True)
    for href in ["/news/feed.rss", "/news/feed.atom", "/news/rumour/feed.atom", "/press/conferences.ics"]:
        assert re.search(rf'<link rel="alternate" type="[^"]+" title="[^"]+" href="{re.escape(href)}">', html), href
