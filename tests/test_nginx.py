"""deploy/nginx.conf itself, run by Debian's nginx in front of the app under gunicorn (bench/nginx_local.py).

What a reader and a spokesperson notice through it: pages come from nginx's cache, a new bulletin shows within
about a second anyway, staff and form pages are never shared, and every page carries the app's security headers.
"""

from __future__ import annotations

import contextlib
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
from datetime import timedelta
from pathlib import Path

import pytest
from bulletin_helpers import local
from conftest import need_service
from server_helpers import ROOT, copy_sqlite_template, free_port, gunicorn, seed_incident_site, server_env, worker
from sqlalchemy import select
from totp_helpers import authenticator_code

from portal.extensions import db
from portal.models import Incident, StaffUser
from portal.services.bulletins import publishing
from portal.views.security import EDGE_HEADERS

_spec = importlib.util.spec_from_file_location("nginx_local", ROOT / "bench" / "nginx_local.py")
nginx_local = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nginx_local)


def publish(app, title: str, when: str = "") -> None:
    """A spokesperson publishes an update (from this process, through the service the console calls); `when`:
    a Beijing time as the console takes it, to schedule it."""
    with app.app_context():
        actor = db.session.scalar(select(StaffUser).where(StaffUser.username == "spokesperson"))
        incident = db.session.scalar(select(Incident).where(Incident.slug == "qingshi-flood"))
        publishing.post_update(db.session, actor, incident,
                               publishing.NewUpdate(body=f"{title}：详情。", title=title, publish_at=when))
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
def served(tmp_path, database_template, tree: bool = False, **env_extra: str):
    """The seeded site under gunicorn behind deploy/nginx.conf: (nginx URL, app URL, an app on the database).
    `tree`: the worker runs too, writing the static tree nginx serves (PORTAL_PAGE_TREE_DIR, as deployed)."""
    db_path = copy_sqlite_template(database_template, tmp_path / "portal.db",
                                   "the nginx test serves the SQLite template under gunicorn")
    if nginx_local.binary() is None:
        need_service("nginx is not installed (apt-get install nginx)")
    app = seed_incident_site(db_path, tmp_path, [
        publishing.NewUpdate(body="转移群众1260人，暂无人员伤亡。", title="青石镇山洪通报（第1次）")])
    port = free_port()
    front = f"http://127.0.0.1:{port}"
    # As deploy/portal.service runs the app behind deploy/nginx.conf.
    pages = tmp_path / "pages"
    if tree:
        env_extra["PORTAL_PAGE_TREE_DIR"] = str(pages)
    env = server_env(db_path, tmp_path, SECRET_KEY, PORTAL_PROXY_COUNT="1", PORTAL_SECURITY_HEADERS_AT_EDGE="true",
                     **env_extra)
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(gunicorn(env, tmp_path / "gunicorn.log"))
        if tree:
            stack.enter_context(worker({**env, "PORTAL_BASE_URL": base}, tmp_path / "worker.log"))
        app_port = int(base.rsplit(":", 1)[1])
        stack.enter_context(nginx_local.running(tmp_path / "nginx", port, app_port, tree=pages))
        yield front, base, app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def edge(tmp_path, database_template):
    with served(tmp_path, database_template) as site:
        yield site


# nginx's proxy cache may keep pages and feeds a minute: only the static tree can make a new bulletin show sooner.
KEEP_A_MINUTE = {
    "PORTAL_PAGE_CACHE_CONTROL": "public, max-age=10, s-maxage=60, stale-while-revalidate=30",
    "PORTAL_FEED_SHARED_MAX_AGE": "60",
}


@pytest.fixture
def tree_edge(tmp_path, database_template):
    """As deployed: the worker writes the static tree that nginx serves."""
    with served(tmp_path, database_template, tree=True) as site:
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


def wait_for_file(front: str, path: str, timeout: float = 10) -> dict[str, str]:
    """Ask until nginx answers `path` from the static tree (the worker writes it at start, or once read)."""
    deadline = time.monotonic() + timeout
    while True:
        status, headers, _ = get(front + path)
        if headers.get("X-Cache-Status") == "FILE":
            return headers
        assert time.monotonic() < deadline, f"{path} never came from the static tree: {status} {headers}"
        time.sleep(0.1)


TREE_PAGES = SHOWING + LISTING + ("/questions",)


def test_pages_are_files_with_the_apps_bytes_and_headers(tree_edge):
    front, direct, _ = tree_edge
    for path in TREE_PAGES:
        wait_for_file(front, path)
        for browser in (False, True):
            status, headers, body = get(front + path, browser=browser)
            assert status == 200 and headers["X-Cache-Status"] == "FILE", path
            _, app_headers, app_body = get(direct + path, browser=browser)
            assert body == app_body, path
            # What the app sends, header by header (the ETag is the file's own validator: see below).
            for name in ("Content-Type", "Cache-Control"):
                assert headers[name] == app_headers[name], (path, name)
            assert {v.strip() for v in headers["Vary"].split(",")} == \
                {v.strip() for v in app_headers["Vary"].split(",")}, path
            assert headers.get("Content-Encoding") == app_headers.get("Content-Encoding"), path
            for name, value in EDGE_HEADERS:
                assert headers[name] == value, (path, name)
            assert "Set-Cookie" not in headers
            # A reader's copy is revalidated by the file's ETag: 304 while the file is unchanged.
            request = urllib.request.Request(front + path, headers={"If-None-Match": headers["ETag"],
                                                                    **({"Accept-Encoding": "gzip"} if browser else {})})
            with pytest.raises(urllib.error.HTTPError) as not_modified:
                _opener.open(request, timeout=10)
            assert not_modified.value.code == 304, path


def test_a_staff_cookie_a_query_or_a_form_never_gets_a_file(tree_edge):
    front, _, _ = tree_edge
    for path in ("/incidents/qingshi-flood", "/feeds/bulletins.atom", "/"):
        wait_for_file(front, path)
        # Flask's session cookies have dots in them (payload.time.signature), as the page map's key does.
        for cookie in ("session=abc", "remember_token=abc", "theme=dark; session=abc",
                       "session=.eJyrVkrOz0nNS1GyUjAwMjEwMTA1.Z3Xk9A.kq1Ux-2Zs9bP0Zq3NUMh0BjW7sI",
                       "session=eyJjc3JmIjoiMTIzIn0.Z3Xk9A.123"):
            status, headers, _ = get(front + path, cookie=cookie)
            assert headers.get("X-Cache-Status") == "BYPASS", (path, cookie)
        # Another cookie is no staff session: the file; so is a HEAD.
        assert get(front + path, cookie="theme=dark")[1]["X-Cache-Status"] == "FILE"
        head = urllib.request.Request(front + path, method="HEAD")
        with _opener.open(head, timeout=10) as response:
            assert response.headers["X-Cache-Status"] == "FILE", path
    # A query string (the board's pages, a search) is the app's, through the proxy cache.
    assert get(front + "/questions?page=1")[1].get("X-Cache-Status") != "FILE"
    # A POST to a page's address reaches the app (its own error page, in Chinese), never nginx's answer for a file.
    request = urllib.request.Request(front + "/incidents/qingshi-flood", data=b"x=1", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        _opener.open(request, timeout=10)
    page = refused.value.read().decode()
    assert refused.value.headers.get("X-Cache-Status") != "FILE" and "nginx" not in page and "<html" in page


def on_disk(tree: Path, path: str) -> list[str]:
    """The page's files in the static tree as text, plain and (decompressed) gzip, those that exist."""
    from portal.pagetree import NAMES, PageTree

    folder = PageTree(tree).folder(path)
    found = []
    for name in NAMES:
        if (folder / name).exists():
            found.append((folder / name).read_text())
        if (folder / (name + ".gz")).exists():
            found.append(gzip.decompress((folder / (name + ".gz")).read_bytes()).decode())
    return found


# nginx sees a renamed file when the tenth of a second it was renamed in ends: each of its worker processes keeps
# the descriptors it checked in that tenth until then (deploy/nginx.conf), so one worker may still answer with the
# old file a few milliseconds after another answered with the new one. One tick, and a margin for nginx's clock,
# which it reads once per event loop.
TICK = 0.15


def test_a_publication_shows_at_once_and_the_old_file_is_never_served_again(tree_edge, tmp_path):
    front, _, app = tree_edge
    for path in SHOWING:
        wait_for_file(front, path)
    console = Console(app, front)
    console.publish("青石镇山洪通报（第2次）")
    committed = time.monotonic()
    seen: dict[tuple[str, bool], float] = {}
    while len(seen) < 2 * len(SHOWING):
        for path, browser in itertools.product(SHOWING, (False, True)):
            if (path, browser) not in seen and "青石镇山洪通报（第2次）" in get(front + path, browser=browser)[2]:
                seen[path, browser] = time.monotonic() - committed
        assert time.monotonic() - committed < 5, f"not visible through nginx: {set(SHOWING) - {p for p, _ in seen}}"
        time.sleep(0.02)
    # The incident page first, then its feeds and the lists: every one within a second of the commit.
    assert max(seen.values()) < 1.0, seen
    # From one tick on, every answer is the new file, plain and compressed, and so is every file on disk; never the
    # old one (a slower render of the old page written over the new one would show here, on disk and through nginx).
    time.sleep(TICK)
    start = time.monotonic()
    while time.monotonic() - start < 1.5:
        for path in SHOWING:
            files = on_disk(tmp_path / "pages", path)
            assert files and all("青石镇山洪通报（第2次）" in text for text in files), (path, "on disk")
        for path, browser in itertools.product(SHOWING, (False, True)):
            status, headers, body = get(front + path, browser=browser)
            assert headers["X-Cache-Status"] == "FILE" and "青石镇山洪通报（第2次）" in body, (
                path, browser, f"{time.monotonic() - start:.3f} s after the tick")


def test_a_scheduled_update_appears_within_the_refresh_interval(tree_edge):
    import sqlalchemy as sa

    from portal.models import PageChange, Update
    from portal.timeutil import utcnow

    front, _, app = tree_edge
    page = "/incidents/qingshi-flood"
    wait_for_file(front, page)
    publish(app, "预告", when=local(utcnow() + timedelta(minutes=5)))
    # The console takes minutes; move the update (and the rows due with it) to three seconds from now.
    due = utcnow() + timedelta(seconds=3)
    with app.app_context():
        db.session.execute(sa.update(Update).where(Update.publish_at > utcnow()).values(publish_at=due))
        db.session.execute(sa.update(PageChange).where(PageChange.due_at > utcnow()).values(due_at=due))
        db.session.commit()
        db.session.remove()
    while utcnow() < due - timedelta(seconds=0.3):
        assert "预告" not in get(front + page)[2], "shown before its time"
        time.sleep(0.1)
    while "预告" not in get(front + page)[2]:
        assert utcnow() - due < timedelta(seconds=2), "the scheduled update did not appear in time"
        time.sleep(0.05)
    # Within the worker's refresh interval (PORTAL_PAGE_TREE_POLL_SECONDS, 0.1 s) plus the writing.
    assert utcnow() - due < timedelta(seconds=1)
    assert get(front + page)[1]["X-Cache-Status"] == "FILE"


def test_the_trees_own_links_are_no_public_address(tree_edge):
    front, _, _ = tree_edge
    wait_for_file(front, "/incidents/qingshi-flood")
    # .tick/<n> links to the tree itself (deploy/nginx.conf): through it a page would have a second address.
    for path in ("/.tick/3/incidents/qingshi-flood", "/.tick/0/", "/incidents/qingshi-flood/.page.html"):
        status, headers, _ = get(front + path)
        assert status == 404 and headers.get("X-Cache-Status") != "FILE", path
