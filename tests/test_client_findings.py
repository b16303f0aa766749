"""Found by real clients: input attributes the HTML standard does not allow for the input's type (the Nu checker
flags them), and feeds that went out uncompressed."""

from __future__ import annotations

import gzip
from html.parser import HTMLParser

from bulletin_helpers import open_incident, post_update, spokesperson
from conftest import AuthActions
from press_helpers import new_release

TEXTUAL = {"text", "search", "url", "tel", "email", "password"}
DATES = {"date", "month", "week", "time", "datetime-local", "number", "range"}
# HTML Living Standard, the table under "4.10.5.1 States of the type attribute": which attribute applies to which type.
APPLIES = {
    "placeholder": TEXTUAL | {"number"},
    "maxlength": TEXTUAL,
    "minlength": TEXTUAL,
    "pattern": TEXTUAL,
    "size": TEXTUAL,
    "min": DATES,
    "max": DATES,
    "step": DATES,
    "accept": {"file"},
    "multiple": {"email", "file"},
}


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.wrong: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag != "input":
            return
        found = dict(attrs)
        kind = (found.get("type") or "text").lower()
        for name, allowed in APPLIES.items():
            if name in found and kind not in allowed:
                self.wrong.append(f'<input type="{kind}" {name}> (name={found.get("name")})')


def wrong_attributes(html: str) -> list[str]:
    parser = _Inputs()
    parser.feed(html)
    return parser.wrong


def test_the_checker_sees_the_reported_case():
    assert wrong_attributes('<input name="month" type="month" placeholder="2026-11">')
    assert not wrong_attributes('<input name="q" type="search" placeholder="例如：路灯" maxlength="100">')


PUBLIC = ["/", "/questions", "/questions?month=2026-11", "/news", "/news?month=2026-11", "/ask", "/track",
          "/subscribe", "/login", "/stats", "/incidents", "/press/conferences",
          "/press/contacts", "/media"]
STAFF = {
    "office": ["/staff/", "/staff/desk", "/staff/clock", "/staff/ledger", "/staff/stats", "/staff/memos",
               "/staff/templates", "/staff/notices", "/staff/reports", "/staff/account/password"],
    "admin": ["/staff/users", "/staff/users/new", "/staff/audit", "/staff/bulletins", "/staff/press",
              "/staff/press/conferences", "/staff/press/directory"],
}


def test_no_page_uses_an_input_attribute_its_type_does_not_allow(app, staff):
    public = app.test_client()
    wrong = {}
    for url in PUBLIC:
        response = public.get(url)
        assert response.status_code < 500, url
        if found := wrong_attributes(response.get_data(as_text=True)):
            wrong[url] = found
    for role, urls in STAFF.items():
        client = app.test_client()
        AuthActions(client).login(role)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (role, url)
            if found := wrong_attributes(response.get_data(as_text=True)):
                wrong[url] = found
    assert wrong == {}


BROWSER = {"Accept-Encoding": "gzip, deflate, br"}


def test_every_feed_goes_compressed_to_clients_that_take_gzip(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    post_update(app, client, incident.id, "转移群众1260人。" * 40, title="第一次通报")
    new_release(app, client, title="关于供水恢复的通报", body="全县供水已于今日恢复。" * 40)
    public = app.test_client()
    for path in ("/feeds/bulletins.rss", "/news/feed.rss", "/news/feed.atom", "/news/news/feed.rss",
                 "/news/news/feed.atom"):
        plain = public.get(path)
        packed = public.get(path, headers=BROWSER)
        assert plain.status_code == packed.status_code == 200, path
        assert packed.headers.get("Content-Encoding") == "gzip", path
        assert gzip.decompress(packed.data) == plain.data and len(packed.data) < len(plain.data), path
        assert "Accept-Encoding" in packed.headers["Vary"], path
