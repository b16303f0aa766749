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


def test_search_is_throttled_per_client(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SEARCH="3 per minute", RATELIMIT_STORAGE_URI="memory://")
    client = app.test_client()
    codes = [client.get("/search?q=路灯").status_code for _ in range(4)]
    assert codes[:3] != [429, 429, 429] and codes[3] == 429
    assert "操作过于频繁" in client.get("/search?q=路灯").get_data(as_text=True)


def test_search_limit_lets_citizens_behind_one_address_search(make_app, monkeypatch):
    """Field report: 300 searches in two minutes from one address (a carrier NAT) were refused after 120.

    With the default limit every one of them answers; a client that keeps going past it is still refused. The
    limiter's clock is the test's, so the machine's speed cannot move a request into another window.
    """
    import time
    import types

    import limits.storage.memory

    from portal.extensions import db
    from portal.search import backend
    from portal.search.indexer import rebuild

    clock = [time.time()]
    monkeypatch.setattr(limits.storage.memory, "time", types.SimpleNamespace(time=lambda: clock[0]))
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", CACHE_URL="none")
    with app.app_context():
        rebuild(db.session, backend(), app.config["SEARCH_INDEX_DIR"])
    client = app.test_client()
    codes = []
    for n in range(300):  # 300 searches spread over two minutes
        codes.append(client.get(f"/search?q=路灯{n}").status_code)
        clock[0] += 0.4
    assert codes == [200] * 300
    assert client.get("/search/similar?title=路灯不亮").status_code == 200
    clock[0] += 61  # a new minute; then a flood within it
    codes = [client.get(f"/search?q=路灯{n}").status_code for n in range(601)]
    assert codes == [200] * 600 + [429]


def test_pages_kept_by_shared_caches_carry_no_client_quota(make_app):
    """A search page is public (nginx keeps it): one reader's remaining quota must not be replayed to everyone."""
    from portal.extensions import db
    from portal.search import backend
    from portal.search.indexer import rebuild

    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SEARCH="3 per minute", RATELIMIT_STORAGE_URI="memory://")
    with app.app_context():
        rebuild(db.session, backend(), app.config["SEARCH_INDEX_DIR"])
    client = app.test_client()
    page = client.get("/search?q=路灯")
    assert page.status_code == 200 and page.headers["Cache-Control"].startswith("public")
    assert "s-maxage=1" in page.headers["Cache-Control"]
    assert [name for name in page.headers.keys() if name.lower().startswith("x-ratelimit") or name == "Retry-After"] == []
    codes = [client.get(f"/search?q=路灯{n}").status_code for n in range(3)]
    assert codes[-1] == 429
    refused = client.get("/search?q=路灯9")
    # The refusal is not shared, and still tells this client when to come back.
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.headers["X-RateLimit-Remaining"] == "0"


def test_limits_are_shared_across_workers_through_redis(make_app, staff):
    import uuid

    import redis

    from tests.conftest import need_service

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        need_service("Redis is not running on 127.0.0.1:6379")
    limit = {"RATELIMIT_ENABLED": True, "RATELIMIT_LOGIN": "3 per minute", "RATELIMIT_STORAGE_URI": url,
             "RATELIMIT_KEY_PREFIX": f"portal-test-{uuid.uuid4().hex}"}
    worker_a = make_app(**limit).test_client()
    worker_b = make_app(**limit).test_client()
    token_a, token_b = csrf_token(worker_a, "/login"), csrf_token(worker_b, "/login")
    wrong = {"username": "office", "password": "wrong"}
    assert worker_a.post("/login", data={**wrong, "csrf_token": token_a}).status_code == 401
    assert worker_b.post("/login", data={**wrong, "csrf_token": token_b}).status_code == 401
    assert worker_a.post("/login", data={**wrong, "csrf_token": token_a}).status_code == 401
    # The fourth attempt is refused by the other worker: the count lives in Redis, not in either process.
    assert worker_b.post("/login", data={**wrong, "csrf_token": token_b}).status_code == 429
    server = redis.Redis.from_url(url)
    keys = server.keys("*" + limit["RATELIMIT_KEY_PREFIX"] + "*")
    assert keys, "the limiter did not store its counts in Redis"
    assert all(b"127.0.0.1" not in key for key in keys)  # keyed by the HMAC fingerprint, never the address
    server.delete(*keys)
