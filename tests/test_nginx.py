"""deploy/nginx.conf itself, run by Debian's nginx in front of the app under gunicorn (bench/nginx_local.py).

What a reader and a spokesperson notice through it: pages come from nginx's cache, a new bulletin shows within
about a second anyway, staff and form pages are never shared, and every page carries the app's security headers.
"""

from __future__ import annotations

import gzip
import http.client
import http.cookiejar
import importlib.util
import itertools
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager

import pytest
from conftest import need_service
from server_helpers import ROOT, copy_sqlite_template, free_port, gunicorn, seed_incident_site, server_env
from sqlalchemy import select
from totp_helpers import authenticator_code

from portal.extensions import db
from portal.models import Incident, StaffUser
from portal.services.bulletins import publishing
from portal.views.security import EDGE_HEADERS

_spec = importlib.util.spec_from_file_location("nginx_local", ROOT / "bench" / "nginx_local.py")
nginx_local = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nginx_local)


def publish(app, title: str) -> None:
    """A spokesperson publishes an update (from this process, through the service the console calls)."""
    with app.app_context():
        actor = db.session.scalar(select(StaffUser).where(StaffUser.username == "spokesperson"))
        incident = db.session.scalar(select(Incident).where(Incident.slug == "qingshi-flood"))
        publishing.post_update(db.session, actor, incident, publishing.NewUpdate(body=f"{title}：详情。", title=title))
        db.session.remove()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ARG002
        return None


_opener = urllib.request.build_opener(_NoRedirect())


def get(url: str, cookie: str = "", browser: bool = False) -> tuple[int, dict[str, str], str]:
    """One request, redirects not followed: (status, headers, body). `browser`: take gzip, as browsers do."""
    headers = {"Cookie": cookie} if cookie else {}
    if browser:
        headers["Accept-Encoding"] = "gzip, deflate, br, zstd"
    request = urllib.request.Request(url, headers=headers)
    try:
        with _opener.open(request, timeout=10) as response:
            raw = response.read()
            if response.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            return response.status, dict(response.headers), raw.decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


SECRET_KEY = "nginx-test-secret-key-0123456789"


@contextmanager
def served(tmp_path, database_template, **env_extra: str):
    """The seeded site under gunicorn behind deploy/nginx.conf: (nginx URL, app URL, an app on the database)."""
    db_path = copy_sqlite_template(database_template, tmp_path / "portal.db",
                                   "the nginx test serves the SQLite template under gunicorn")
    if nginx_local.binary() is None:
        need_service("nginx is not installed (apt-get install nginx)")
    app = seed_incident_site(db_path, tmp_path, [
        publishing.NewUpdate(body="转移群众1260人，暂无人员伤亡。", title="青石镇山洪通报（第1次）")])
    port = free_port()
    front = f"http://127.0.0.1:{port}"
    # As deploy/portal.service runs the app behind deploy/nginx.conf.
    env = server_env(db_path, tmp_path, SECRET_KEY, PORTAL_PROXY_COUNT="1", PORTAL_SECURITY_HEADERS_AT_EDGE="true",
                     **{name: value.format(front=front) for name, value in env_extra.items()})
    with gunicorn(env, tmp_path / "gunicorn.log") as base:
        app_port = int(base.rsplit(":", 1)[1])
        with nginx_local.running(tmp_path / "nginx", port, app_port):
            yield front, base, app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def edge(tmp_path, database_template):
    with served(tmp_path, database_template) as site:
        yield site


# nginx may keep pages and feeds a minute: only the app's refresh can make a new bulletin show sooner.
KEEP_A_MINUTE = {
    "PORTAL_PAGE_CACHE_CONTROL": "public, max-age=10, s-maxage=60, stale-while-revalidate=30",
    "PORTAL_FEED_SHARED_MAX_AGE": "60",
}


@pytest.fixture
def refreshed_edge(tmp_path, database_template):
    with served(tmp_path, database_template, PORTAL_EDGE_REFRESH_URLS="{front}", **KEEP_A_MINUTE) as site:
        yield site


def test_pages_come_from_the_cache_with_the_apps_security_headers(edge):
    front, direct, _ = edge
    statuses = []
    for _ in range(3):
        status, headers, body = get(front + "/incidents/qingshi-flood")
        assert status == 200 and "青石镇山洪通报（第1次）" in body
        statuses.append(headers["X-Cache-Status"])
        assert "Set-Cookie" not in headers
        for name, value in EDGE_HEADERS:
            assert headers[name] == value, name
        assert not [name for name in headers if name.lower().startswith("x-ratelimit")]
    assert statuses[0] == "MISS" and statuses[-1] == "HIT"
    # The app itself leaves the four headers to nginx.
    _, headers, _ = get(direct + "/incidents/qingshi-flood")
    assert [name for name, _ in EDGE_HEADERS if name in headers] == []


def test_browsers_get_the_compressed_page_from_the_cache(edge):
    front, _, _ = edge
    path = "/incidents/qingshi-flood"
    for browser in (True, False, True, False):
        get(front + path, browser=browser)
    status, headers, body = get(front + path, browser=True)
    assert status == 200 and headers["X-Cache-Status"] == "HIT" and headers["Content-Encoding"] == "gzip"
    assert "青石镇山洪通报（第1次）" in body and "Accept-Encoding" in headers["Vary"]
    # A client that takes no gzip (or refuses it) gets the plain copy, also from the cache.
    for refusing in ("", "gzip;q=0"):
        request = urllib.request.Request(front + path, headers={"Accept-Encoding": refusing} if refusing else {})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["X-Cache-Status"] == "HIT" and "Content-Encoding" not in response.headers
            assert "青石镇山洪通报（第1次）" in response.read().decode()


def test_a_new_bulletin_shows_through_the_cache_within_about_a_second(edge):
    front, _, app = edge
    for _ in range(2):
        get(front + "/incidents/qingshi-flood")
    assert get(front + "/incidents/qingshi-flood")[1]["X-Cache-Status"] == "HIT"
    publish(app, "青石镇山洪通报（第2次）")
    published = time.monotonic()
    while "青石镇山洪通报（第2次）" not in get(front + "/incidents/qingshi-flood")[2]:
        assert time.monotonic() - published < 4, "the new bulletin did not show through nginx within 4 s"
        time.sleep(0.05)
    shown = time.monotonic() - published
    # s-maxage=1, then one background revalidation: about a second, never the browser max-age of 10 s.
    assert shown < 2.5, shown
    for path in ("/feeds/bulletins.atom", "/feeds/bulletins.rss"):
        deadline = time.monotonic() + 4
        while "青石镇山洪通报（第2次）" not in get(front + path)[2]:
            assert time.monotonic() < deadline, path
            time.sleep(0.05)


def test_staff_and_form_pages_are_never_shared(edge):
    front, _, _ = edge
    status, headers, _ = get(front + "/ask")
    assert status == 200 and "session=" in headers.get("Set-Cookie", "")
    again = get(front + "/ask")[1]
    assert again["X-Cache-Status"] != "HIT" and "session=" in again.get("Set-Cookie", "")
    # Anyone carrying a session cookie goes past the cache, even on a page the cache holds.
    for _ in range(2):
        get(front + "/questions")
    assert get(front + "/questions")[1]["X-Cache-Status"] == "HIT"
    assert get(front + "/questions", cookie="session=abc")[1]["X-Cache-Status"] == "BYPASS"
    status, headers, _ = get(front + "/staff/", cookie="session=abc")
    assert headers["X-Cache-Status"] == "BYPASS" and status in (302, 303)
    for name, value in EDGE_HEADERS:
        assert headers[name] == value, name


TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


class Console:
    """The spokesperson at the console, through nginx as in production (session cookie: never cached)."""

    def __init__(self, app, front: str) -> None:
        from portal.services.accounts import totp

        with app.app_context():
            user = db.session.scalar(select(StaffUser).where(StaffUser.username == "spokesperson"))
            user.totp_secret = totp.encrypt_secret(SECRET_KEY, TOTP_SECRET)
            self.incident_id = db.session.scalar(select(Incident.id).where(Incident.slug == "qingshi-flood"))
            db.session.commit()
            db.session.remove()
        self.front = front
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        self.post("/login", {"username": "spokesperson", "password": "correct-horse-battery"})
        self.post("/login/totp", {"code": authenticator_code(TOTP_SECRET)})  # accepted once: the next unused one

    def post(self, path: str, fields: dict[str, str], form: str = "") -> str:
        page = self.opener.open(self.front + (form or path), timeout=10).read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({**fields, "csrf_token": token}).encode()
        with self.opener.open(self.front + path, data=data, timeout=30) as response:
            return response.read().decode()

    def publish(self, title: str) -> None:
        page = self.post(f"/staff/bulletins/{self.incident_id}/updates", {
            "kind": "update", "title": title, "body": f"{title}：详情。", "when": "now", "publish_at": "",
            "press_at": "", "press_place": "", "livestream_url": "", "questions": "", "submit": "发布"},
            form=f"/staff/bulletins/{self.incident_id}")
        assert title in page


# Pages that show the new bulletin itself, and pages that list the incident (only their ETag tells).
SHOWING = ("/incidents/qingshi-flood", "/feeds/bulletins.atom", "/feeds/bulletins.rss",
           "/incidents/qingshi-flood/feed.atom", "/incidents/qingshi-flood/feed.rss")
LISTING = ("/", "/incidents")


def warm(front: str, paths) -> None:
    for path, browser in itertools.product(paths, (False, True)):
        for _ in range(3):
            if get(front + path, browser=browser)[1]["X-Cache-Status"] == "HIT":
                break
        assert get(front + path, browser=browser)[1]["X-Cache-Status"] == "HIT", path


def test_a_publication_at_the_console_refreshes_the_pages_nginx_keeps(refreshed_edge):
    front, _, app = refreshed_edge
    warm(front, SHOWING + LISTING)
    before = {path: get(front + path)[1]["ETag"] for path in LISTING}
    console = Console(app, front)
    console.publish("青石镇山洪通报（第2次）")
    published = time.monotonic()
    # nginx keeps these pages a minute (s-maxage=60): they change now only because the app asked it to refresh.
    for path, browser in itertools.product(SHOWING, (False, True)):
        while "青石镇山洪通报（第2次）" not in get(front + path, browser=browser)[2]:
            assert time.monotonic() - published < 10, f"{path} still shows the old bulletin list"
            time.sleep(0.05)
        # The new page is the one nginx now keeps and gives everyone, plain and compressed.
        status, headers, body = get(front + path, browser=browser)
        assert status == 200 and headers["X-Cache-Status"] == "HIT" and "青石镇山洪通报（第2次）" in body, path
    for path in LISTING:
        while get(front + path)[1]["ETag"] == before[path]:
            assert time.monotonic() - published < 10, f"{path} is still the copy from before the publication"
            time.sleep(0.05)
        assert get(front + path)[1]["X-Cache-Status"] == "HIT", path


def raw_get(front: str, path: str, source: str, refresh: bool) -> tuple[str, str]:
    """GET from a chosen loopback address, with or without the refresh header: (X-Cache-Status, body)."""
    host, port = front.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"X-Portal-Refresh": "1", "X-Portal-Scheme": "http"} if refresh else {})
        response = conn.getresponse()
        return response.getheader("X-Cache-Status", ""), response.read().decode()
    finally:
        conn.close()


def test_only_the_app_servers_addresses_may_refresh_the_cache(refreshed_edge):
    front, _, app = refreshed_edge
    page = "/incidents/qingshi-flood"
    warm(front, [page])
    # Published from this test's own app, which sends no refresh: nginx keeps the old page a minute.
    publish(app, "青石镇山洪通报（第2次）")
    # A reader who sends the header from an address not in deploy/nginx.conf's `geo` list gets the kept page.
    status, body = raw_get(front, page, "127.0.0.2", refresh=True)
    assert status == "HIT" and "青石镇山洪通报（第2次）" not in body
    # From an app server's address (127.0.0.1 is listed) the same request fetches and stores the new page.
    status, body = raw_get(front, page, "127.0.0.1", refresh=True)
    assert status == "BYPASS" and "青石镇山洪通报（第2次）" in body
    status, body = raw_get(front, page, "127.0.0.2", refresh=False)
    assert status == "HIT" and "青石镇山洪通报（第2次）" in body
