"""deploy/nginx.conf itself, run by Debian's nginx in front of the app under gunicorn (bench/nginx_local.py).

What a reader and a spokesperson notice through it: pages come from nginx's cache, a new bulletin shows within
about a second anyway, staff and form pages are never shared, and every page carries the app's security headers.
"""

from __future__ import annotations

import importlib.util
import time
import urllib.error
import urllib.request

import pytest
from conftest import need_service
from server_helpers import ROOT, copy_sqlite_template, free_port, gunicorn, seed_incident_site, server_env
from sqlalchemy import select

from portal.extensions import db
from portal.models import Incident, StaffUser
from portal.services import bulletins
from portal.views.security import EDGE_HEADERS

_spec = importlib.util.spec_from_file_location("nginx_local", ROOT / "bench" / "nginx_local.py")
nginx_local = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nginx_local)


def publish(app, title: str) -> None:
    """A spokesperson publishes an update (from this process, through the service the console calls)."""
    with app.app_context():
        actor = db.session.scalar(select(StaffUser).where(StaffUser.username == "spokesperson"))
        incident = db.session.scalar(select(Incident).where(Incident.slug == "qingshi-flood"))
        bulletins.post_update(db.session, actor, incident, bulletins.NewUpdate(body=f"{title}：详情。", title=title))
        db.session.remove()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ARG002
        return None


_opener = urllib.request.build_opener(_NoRedirect())


def get(url: str, cookie: str = "") -> tuple[int, dict[str, str], str]:
    """One request, redirects not followed: (status, headers, body)."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with _opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


@pytest.fixture
def edge(tmp_path, database_template):
    db_path = copy_sqlite_template(database_template, tmp_path / "portal.db",
                                   "the nginx test serves the SQLite template under gunicorn")
    if nginx_local.binary() is None:
        need_service("nginx is not installed (apt-get install nginx)")
    app = seed_incident_site(db_path, tmp_path, [
        bulletins.NewUpdate(body="转移群众1260人，暂无人员伤亡。", title="青石镇山洪通报（第1次）")])
    # As deploy/portal.service runs the app behind deploy/nginx.conf.
    env = server_env(db_path, tmp_path, "nginx-test-secret-key-0123456789",
                     PORTAL_PROXY_COUNT="1", PORTAL_SECURITY_HEADERS_AT_EDGE="true")
    with gunicorn(env, tmp_path / "gunicorn.log") as base:
        app_port = int(base.rsplit(":", 1)[1])
        port = free_port()
        with nginx_local.running(tmp_path / "nginx", port, app_port):
            yield f"http://127.0.0.1:{port}", base, app
    with app.app_context():
        db.engine.dispose()


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
