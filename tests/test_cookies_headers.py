"""Anonymous pages set no cookie (so caches can keep them); only the form pages do; security headers."""

from __future__ import annotations

import pytest

from tests.conftest import ask_and_get_code


@pytest.fixture
def published(app, client, auth, staff):
    number, _ = ask_and_get_code(client)
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Question
    from tests.conftest import csrf_token

    with app.app_context():
        qid = db.session.scalar(select(Question.id).where(Question.number == number))
    auth.login("office")
    token = csrf_token(client, f"/staff/questions/{qid}")
    client.post(f"/staff/questions/{qid}/reply", data={"body": "网友您好：已安排维修，感谢支持。", "publish": "1", "csrf_token": token})
    auth.logout()
    return number


def test_reading_pages_sets_no_cookie(app, published):
    fresh = app.test_client()
    for url in ["/", "/questions", "/questions?category=求助", f"/questions/{published}", "/pages/about",
                "/pages/privacy", "/pages/missing", "/questions/0", "/news", "/news?type=rumour", "/news/missing",
                "/news/feed.atom", "/news/rumour/feed.rss", "/press/conferences", "/press/conferences.ics",
                "/press/contacts", "/attachments/1/x.png"]:
        response = fresh.get(url)
        assert "Set-Cookie" not in response.headers, url
        assert fresh.get_cookie("session") is None, url


@pytest.mark.parametrize("url", ["/ask", "/track", "/login"])
def test_form_pages_set_the_session_cookie(app, url):
    response = app.test_client().get(url)
    cookie = response.headers.get("Set-Cookie", "")
    assert "session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "no-store" in response.headers.get("Cache-Control", "")


def test_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]


def test_behind_nginx_the_constant_headers_are_left_to_it(make_app):
    """deploy/nginx.conf adds the four constant headers itself (tests/test_nginx.py checks them through nginx);
    the app then leaves them off, but an attachment keeps its own stricter policy."""
    from portal.views.security import EDGE_HEADERS

    app = make_app(SECURITY_HEADERS_AT_EDGE=True)
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert [name for name, _ in EDGE_HEADERS if name in response.headers] == []
    nginx_conf = (__import__("pathlib").Path(__file__).resolve().parents[1] / "deploy" / "nginx.conf").read_text()
    for name, value in EDGE_HEADERS:
        assert f'add_header {name} "{value}" always;' in nginx_conf, name
    unit = (__import__("pathlib").Path(__file__).resolve().parents[1] / "deploy" / "portal.service").read_text()
    assert "PORTAL_SECURITY_HEADERS_AT_EDGE=true" in unit


def test_staff_pages_are_never_cached(client, auth, staff):
    auth.login("office")
    assert "no-store" in client.get("/staff/").headers["Cache-Control"]


def test_production_cookie_settings_mark_the_session_cookie_secure(make_app):
    app = make_app(SESSION_COOKIE_SECURE=True)
    cookie = app.test_client().get("/ask", base_url="https://localhost").headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    unit = (__import__("pathlib").Path(__file__).resolve().parents[1] / "deploy" / "portal.service").read_text()
    assert "PORTAL_SESSION_COOKIE_SECURE=true" in unit
