"""Request limits per client on the login and track forms (Flask-Limiter), with a Chinese 429 page."""

from __future__ import annotations

from tests.conftest import PASSWORD, csrf_token


def test_login_is_throttled_per_client(make_app, staff):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3 per minute", RATELIMIT_STORAGE_URI="memory://")
    client = app.test_client()
    token = csrf_token(client, "/login")
    codes = [
        client.post("/login", data={"username": "office", "password": "wrong", "csrf_token": token}).status_code
        for _ in range(3)
    ]
    assert codes == [401, 401, 401]
    blocked = client.post("/login", data={"username": "office", "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429 and "操作过于频繁" in blocked.get_data(as_text=True)
    assert client.get("/login").status_code == 200  # reading the form is not limited


def test_track_is_throttled_per_client(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_TRACK="2 per minute", RATELIMIT_STORAGE_URI="memory://")
    client = app.test_client()
    token = csrf_token(client, "/track")
    data = {"number": "2026010100001", "code": "AAAA-BBBB-CCCC", "csrf_token": token}
    assert [client.post("/track", data=data).status_code for _ in range(2)] == [404, 404]
    assert client.post("/track", data=data).status_code == 429
