"""Feeds checked strictly: valid for feedparser (no bozo) and for our own stricter reading of RSS 2.0 and Atom."""

from __future__ import annotations

import email.utils
import http.server
import re
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from datetime import datetime

import feedparser
import pytest
from bs4 import BeautifulSoup
from bulletin_helpers import latest_update, open_incident, post_update, spokesperson
from conftest import AuthActions, ask_and_get_code, csrf_token
from sqlalchemy import select

from portal.extensions import db
from portal.models import Question

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
XSS = [
    "<script>alert(1)</script>",
    "<iframe src=https://evil.example></iframe>",
    '<img src=x onerror="alert(1)">',
    "[点我](javascript:alert(1))",
    "[点我](JaVaScRiPt:alert(1))",
    "[点我](java\tscript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    '<svg onload="alert(1)"></svg>',
    '<div style="background:url(javascript:alert(1))" onclick="alert(1)">x</div>',
    "<object data=javascript:alert(1)></object>",
    '<form action="javascript:alert(1)"><button>x</button></form>',
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
]


def rfc822(text: str) -> datetime:
    parsed = email.utils.parsedate_to_datetime(text)
    assert parsed.tzinfo is not None and re.match(r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d ", text)
    return parsed


def check_rss(body: bytes) -> list[ET.Element]:
    """RSS 2.0: channel title/link/description, atom:link self; each item title, link, description, guid, pubDate."""
    root = ET.fromstring(body)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    for name in ("title", "link", "description", "language", "lastBuildDate"):
        assert (channel.findtext(name) or "").strip(), name
    assert channel.findtext("link").startswith("http")
    rfc822(channel.findtext("lastBuildDate"))
    assert any(link.get("rel") == "self" for link in channel.findall(f"{ATOM}link"))
    items = channel.findall("item")
    guids = [item.findtext("guid") for item in items]
    assert len(guids) == len(set(guids)), "duplicate guids"
    dates = []
    for item in items:
        for name in ("title", "link", "description", "guid", "pubDate"):
            assert (item.findtext(name) or "").strip(), name
        assert item.find("guid").get("isPermaLink") == "false" and item.findtext("guid").startswith("tag:")
        assert item.findtext("link").startswith("http")
        dates.append(rfc822(item.findtext("pubDate")))
    assert dates == sorted(dates, reverse=True), "items not newest first"
    return items


def check_atom(body: bytes) -> list[ET.Element]:
    """Atom: feed id/title/updated/author/self link; each entry id/title/updated/published/link/content."""
    root = ET.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert (root.findtext(f"{ATOM}{name}") or "").strip(), name
    assert RFC3339.match(root.findtext(f"{ATOM}updated"))
    assert root.find(f"{ATOM}author/{ATOM}name").text
    assert any(link.get("rel") == "self" and link.get("href").startswith("http") for link in root.findall(f"{ATOM}link"))
    entries = root.findall(f"{ATOM}entry")
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(ids) == len(set(ids)), "duplicate ids"
    updated = []
    for entry in entries:
        for name in ("id", "title", "updated", "published"):
            assert (entry.findtext(f"{ATOM}{name}") or "").strip(), name
        assert RFC3339.match(entry.findtext(f"{ATOM}updated")) and RFC3339.match(entry.findtext(f"{ATOM}published"))
        assert entry.find(f"{ATOM}link").get("href").startswith("http")
        assert entry.find(f"{ATOM}content").get("type") == "html"
        updated.append(datetime.fromisoformat(entry.findtext(f"{ATOM}updated")))
    assert updated == sorted(updated, reverse=True), "entries not newest first"
    return entries


def parse_clean(body: bytes):
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


@pytest.fixture
def incident_with_updates(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    for n in range(1, 4):
        post_update(app, client, incident.id, f"第{n}次：青石镇累计转移群众{n * 100}人。", title=f"青石镇通报{n}")
    first = latest_update(app).id - 2
    token = csrf_token(client, f"/staff/bulletins/updates/{first}/correct")
    response = client.post(f"/staff/bulletins/updates/{first}/correct", data={
        "title": "青石镇通报1", "body": "第1次：青石镇累计转移群众110人。", "change_note": "人数更正为110人。",
        "submit": "发布更正", "csrf_token": token})
    assert response.status_code == 303
    return incident, first


def all_feed_urls(slug: str) -> list[str]:
    return ["/feeds/bulletins.rss", "/feeds/bulletins.atom", f"/incidents/{slug}/feed.rss",
            f"/incidents/{slug}/feed.atom"]


def test_every_feed_is_strictly_valid_chinese_intact_and_newest_first(app, incident_with_updates):
    incident, corrected = incident_with_updates
    client = app.test_client()
    for url in all_feed_urls(incident.slug):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith(
            "application/rss+xml" if url.endswith("rss") else "application/atom+xml")
        parsed = parse_clean(response.data)
        assert len(parsed.entries) == 3
        items = check_rss(response.data) if url.endswith("rss") else check_atom(response.data)
        assert len(items) == 3
        text = response.data.decode("utf-8")
        assert "青石镇累计转移群众300人" in text
        # The correction was re-issued: it is now the newest entry, same id, marked 更正 with its note.
        top = parsed.entries[0]
        assert top.id.endswith(f"update/{corrected}") and top.title.startswith("【更正】")
        assert "人数更正为110人" in (top.get("summary") or top.content[0].value)


def test_correction_is_an_updated_entry_with_the_same_id(app, incident_with_updates):
    incident, corrected = incident_with_updates
    parsed = parse_clean(app.test_client().get("/feeds/bulletins.atom").data)
    entry = next(e for e in parsed.entries if e.id.endswith(f"/update/{corrected}"))
    assert datetime.fromisoformat(entry.updated) > datetime.fromisoformat(entry.published)
    ids = [e.id for e in parsed.entries]
    assert ids.count(entry.id) == 1


def test_conditional_get_etag_and_last_modified(app, incident_with_updates):
    incident, _ = incident_with_updates
    client = app.test_client()
    # Last-Modified appears once the second of the newest change is over (see the next test).
    time.sleep(1.05)
    for url in all_feed_urls(incident.slug) + ["/feeds/answers.atom"]:
        first = client.get(url)
        assert first.headers["ETag"] and first.headers["Last-Modified"], url
        assert "public" in first.headers["Cache-Control"], url
        assert "Set-Cookie" not in first.headers
        again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.data == b"", url
        since = client.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]})
        assert since.status_code == 304, url
        stale = client.get(url, headers={"If-None-Match": '"other"', "If-Modified-Since": first.headers["Last-Modified"]})
        assert stale.status_code == 200, url


def test_a_change_in_the_same_second_is_not_hidden_by_if_modified_since(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    post_update(app, client, incident.id, "第一条。")
    first = app.test_client().get("/feeds/bulletins.atom")
    stamp = first.headers.get("Last-Modified")
    post_update(app, client, incident.id, "同一秒内的第二条。")
    if stamp is not None:  # only sent when the newest change's second had already ended
        again = app.test_client().get("/feeds/bulletins.atom", headers={"If-Modified-Since": stamp})
        assert again.status_code == 200 and "同一秒内的第二条" in again.get_data(as_text=True)


def test_empty_feeds_are_valid(app):
    client = app.test_client()
    for url in ["/feeds/bulletins.rss", "/feeds/bulletins.atom", "/feeds/answers.atom"]:
        body = client.get(url).data
        assert parse_clean(body).entries == []
        (check_rss if url.endswith("rss") else check_atom)(body)


def test_xss_payloads_are_neutralised_in_pages_and_feeds(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    for n, payload in enumerate(XSS):
        post_update(app, client, incident.id, f"载荷{n}：{payload}", title=f"载荷{n}")
    public = app.test_client()
    page = BeautifulSoup(public.get(f"/incidents/{incident.slug}").data, "html.parser")
    bodies = [page.select_one(".timeline")]
    for url in all_feed_urls(incident.slug):
        parsed = parse_clean(public.get(url).data)
        for entry in parsed.entries:
            html = entry.content[0].value if "content" in entry else entry.summary
            bodies.append(BeautifulSoup(html, "html.parser"))
    for body in bodies:
        assert body.find(["script", "iframe", "object", "embed", "svg", "form", "style"]) is None
        for tag in body.find_all(True):
            for name, value in tag.attrs.items():
                assert not name.startswith("on"), (tag, name)
                assert name != "style", tag
                if name in ("href", "src", "action"):
                    compact = re.sub(r"[\x00-\x20]", "", str(value)).lower()
                    assert not compact.startswith(("javascript:", "data:", "vbscript:")), tag


def test_answers_feed_and_department_filter(app, staff):
    number, _ = ask_and_get_code(app.test_client(), department=str(staff.roads))
    with app.app_context():
        qid = db.session.scalar(select(Question.id).where(Question.number == number))
    office = app.test_client()
    AuthActions(office).login("office")
    token = csrf_token(office, f"/staff/questions/{qid}")
    office.post(f"/staff/questions/{qid}/route", data={"department": str(staff.roads), "note": "", "csrf_token": token})
    office.post(f"/staff/questions/{qid}/reply", data={"body": "网友您好：路灯已修复。<script>x</script>", "publish": "1",
                                                        "csrf_token": token})
    client = app.test_client()
    parsed = parse_clean(client.get("/feeds/answers.atom").data)
    check_atom(client.get("/feeds/answers.atom").data)
    assert [e.title for e in parsed.entries] == ["解放路路灯不亮何时修"]
    assert "路灯已修复" in parsed.entries[0].content[0].value and "<script" not in parsed.entries[0].content[0].value
    assert len(parse_clean(client.get("/feeds/answers.atom?department=jtj").data).entries) == 1
    assert len(parse_clean(client.get("/feeds/answers.atom?department=jyj").data).entries) == 0
    assert client.get("/feeds/answers.atom?department=nope").status_code == 404


class _Hub(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.received.append(urllib.parse.parse_qs(self.rfile.read(length).decode()))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hub():
    _Hub.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hub", _Hub.received
    server.shutdown()
    server.server_close()


def test_websub_link_header_and_ping_on_publish(make_app, hub):
    hub_url, received = hub
    app = make_app(WEBSUB_HUB=hub_url)
    with app.app_context():
        from portal.models import Department
        from portal.services.accounts import signin

        db.session.add(Department(name="测试县人民政府办公室", slug="office"))
        db.session.commit()
        from portal.services.accounts import totp
        from tests.conftest import TOTP_SECRET

        user = signin.create_user(
            db.session, "spokesperson", "correct-horse-battery", "spokesperson", "测试县人民政府办公室"
        )
        user.totp_secret = totp.encrypt_secret(app.config["SECRET_KEY"], TOTP_SECRET)
        db.session.commit()
    client = spokesperson(app)
    incident = open_incident(app, client)
    response = app.test_client().get("/feeds/bulletins.atom")
    assert response.headers["Link"] == f'<{hub_url}>; rel="hub", <http://localhost/feeds/bulletins.atom>; rel="self"'
    assert any(link.get("rel") == "hub" for link in feedparser.parse(response.data).feed.links)
    post_update(app, client, incident.id, "通报内容。")
    assert received == []  # the publishing request pings nothing itself: the worker does
    from conftest import work

    work(app)
    pinged = sorted(r["hub.url"][0] for r in received)
    assert all(r["hub.mode"] == ["publish"] for r in received)
    assert pinged == sorted([
        "http://localhost/feeds/bulletins.rss", "http://localhost/feeds/bulletins.atom",
        f"http://localhost/incidents/{incident.slug}/feed.rss", f"http://localhost/incidents/{incident.slug}/feed.atom",
    ])


def test_a_dead_hub_never_fails_a_publication(make_app, staff):
    app = make_app(WEBSUB_HUB="http://127.0.0.1:9/hub")
    client = spokesperson(app)
    incident = open_incident(app, client)
    post_update(app, client, incident.id, "即使推送中心不可用，通报照常发布。")
    from conftest import work

    assert work(app)["pings_sent"] == 0  # the pings wait for the hub
    assert "照常发布" in app.test_client().get(f"/incidents/{incident.slug}").get_data(as_text=True)
