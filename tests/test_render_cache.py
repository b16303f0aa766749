"""Caching of anonymous pages: ETag/304, the render cache and its invalidation, crisis switches, Redis store."""

from __future__ import annotations

import gzip
import socket
import uuid
from datetime import timedelta

from bulletin_helpers import local, open_incident, post_update, spokesperson
from conftest import PASSWORD, AuthActions, ask, csrf_token, need_service
from sqlalchemy import func, select
from sqlalchemy import update as sql_update

from portal.cache import Entry, MemoryStore, RedisStore
from portal.extensions import db
from portal.models import AuditEntry, Question, SiteState, Update
from portal.timeutil import utcnow


def version(app) -> int:
    with app.app_context():
        return db.session.scalar(select(SiteState.version).where(SiteState.id == 1))


def test_board_and_incident_answer_304_for_a_matching_etag(app, staff):
    incident = open_incident(app, spokesperson(app))
    public = app.test_client()
    for url in ["/questions", f"/incidents/{incident.slug}", "/"]:
        first = public.get(url)
        assert first.status_code == 200, url
        assert first.headers["Cache-Control"].startswith("public, max-age="), url
        assert "stale-while-revalidate" in first.headers["Cache-Control"]
        assert "Cookie" in first.headers["Vary"] and "Set-Cookie" not in first.headers
        again = public.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.data == b"", url
        assert again.headers["ETag"] == first.headers["ETag"]
        other = public.get(url, headers={"If-None-Match": 'W/"something-else"'})
        assert other.status_code == 200


def test_cached_page_has_no_cookie_and_second_request_is_a_hit(app, staff):
    public = app.test_client()
    first = public.get("/questions")
    second = public.get("/questions")
    assert second.headers.get("X-Render-Cache") == "hit"
    assert second.data == first.data
    assert "Set-Cookie" not in second.headers and "Cookie" in second.headers["Vary"]


def test_published_update_visible_on_next_request_from_another_worker(make_app, staff):
    """Two app objects on one database stand for two workers (or servers) with their own render caches."""
    writer = make_app()
    reader = make_app(CACHE_VERSION_TTL=0)
    client = spokesperson(writer)
    incident = open_incident(writer, client)
    public = reader.test_client()
    url = f"/incidents/{incident.slug}"
    public.get(url)
    assert public.get(url).headers.get("X-Render-Cache") == "hit"
    etag = public.get(url).headers["ETag"]
    post_update(writer, client, incident.id, "交通管制已于十时解除。")
    fresh = public.get(url, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and "交通管制已于十时解除" in fresh.get_data(as_text=True)
    assert "交通管制已于十时解除" in public.get("/feeds/bulletins.atom").get_data(as_text=True)


def test_scheduled_update_shows_when_its_time_passes_without_any_write(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    post_update(app, client, incident.id, "定时通报：下午三点召开发布会。", when="later",
                publish_at=local(utcnow() + timedelta(minutes=30)))
    app.config["CACHE_VERSION_TTL"] = 0
    app.extensions["render_cache"].reader.ttl = 0
    public = app.test_client()
    url = f"/incidents/{incident.slug}"
    assert "定时通报" not in public.get(url).get_data(as_text=True)
    assert public.get(url).headers.get("X-Render-Cache") == "hit"
    before = version(app)
    # Time passes: a Core UPDATE (no ORM flush, so no version bump) moves the scheduled time into the past.
    with app.app_context():
        db.session.execute(sql_update(Update).values(publish_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert version(app) == before
    assert "定时通报" in public.get(url).get_data(as_text=True)


def test_citizen_question_does_not_bump_but_publishing_does(app, staff):
    before = version(app)
    ask(app.test_client())
    assert version(app) == before
    client = spokesperson(app)
    open_incident(app, client)
    assert version(app) > before


def test_a_publication_empties_the_caches_once_not_again_when_it_is_announced(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    before = version(app)
    post_update(app, client, incident.id, "转移群众1260人。", title="第一次通报")
    from conftest import work

    work(app)
    with app.app_context():
        # The request committed the update; the worker marked it announced (notified_at) in a commit of its own.
        assert db.session.scalar(select(Update.notified_at).where(Update.incident_id == incident.id)) is not None
    assert version(app) == before + 1
    page = app.test_client().get(f"/incidents/{incident.slug}")
    assert page.headers.get("X-Render-Cache") != "hit" and "第一次通报" in page.get_data(as_text=True)
    assert app.test_client().get(f"/incidents/{incident.slug}").headers.get("X-Render-Cache") == "hit"


def test_staff_never_get_cached_pages(app, staff):
    public = app.test_client()
    public.get("/")
    assert public.get("/").headers.get("X-Render-Cache") == "hit"
    office = app.test_client()
    assert AuthActions(office).login("office").status_code == 303
    for url in ["/", "/questions", "/incidents"]:
        response = office.get(url)
        assert response.status_code == 200
        assert "X-Render-Cache" not in response.headers, url
        assert response.headers["Cache-Control"] == "private, no-store", url
        assert "ETag" not in response.headers or "public" not in response.headers["Cache-Control"]
    # The anonymous entry was not replaced by a staff render.
    assert public.get("/").headers.get("X-Render-Cache") == "hit"


def _admin(app):
    client = app.test_client()
    assert AuthActions(client).login("admin").status_code == 303
    return client


def set_switches(app, client, **switches):
    data = {"csrf_token": csrf_token(client, "/staff/crisis"), "reason": "演练：切换危机开关。",
            **{k: "y" for k, v in switches.items() if v}}
    response = client.post("/staff/crisis", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]


def test_paused_intake_shows_a_notice_and_refuses_with_503_keeping_the_text(app, staff):
    admin = _admin(app)
    set_switches(app, admin, intake_paused=True)
    citizen = app.test_client()
    page = citizen.get("/ask").get_data(as_text=True)
    assert "留言暂停接收" in page
    def count() -> int:
        with app.app_context():
            return db.session.scalar(select(func.count(Question.id)))

    before = count()
    response = ask(citizen, title="青石镇桥梁何时修复", body="青石镇的石拱桥被洪水冲坏，请问什么时候能够修复通行？")
    text = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "暂停接收" in text and "青石镇的石拱桥被洪水冲坏" in text and "青石镇桥梁何时修复" in text
    assert count() == before
    set_switches(app, admin)  # reopen
    assert "留言暂停接收" not in citizen.get("/ask").get_data(as_text=True)
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "site.crisis_switches")).all()
        assert len(rows) == 2 and all(r.actor_name == "admin" for r in rows)


def test_crisis_mode_home_leads_with_the_pinned_incident(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client, title="云溪县城区停水")
    post_update(app, client, incident.id, "城区供水预计今晚八点恢复。")
    token = csrf_token(client, f"/staff/bulletins/{incident.id}")
    assert client.post(f"/staff/bulletins/{incident.id}/pin", data={"csrf_token": token}).status_code == 303
    public = app.test_client()
    assert "城区供水预计今晚八点恢复" not in public.get("/").get_data(as_text=True)
    set_switches(app, _admin(app), crisis_mode=True)
    app.extensions["render_cache"].reader.invalidate()
    home = public.get("/")
    text = home.get_data(as_text=True)
    assert 'class="crisis-lead"' in text and "城区供水预计今晚八点恢复" in text
    assert text.index("crisis-lead") < text.index('class="hero"')
    assert "stale-if-error" in home.headers["Cache-Control"]
    # Staff keep publishing in crisis mode.
    post_update(app, client, incident.id, "第二次通报：供水已恢复。")
    assert "第二次通报" in public.get("/").get_data(as_text=True)


def test_only_admin_changes_the_switches(app, staff):
    client = app.test_client()
    assert AuthActions(client).login("office", PASSWORD).status_code == 303
    assert client.get("/staff/crisis").status_code == 403


def test_memory_store_lru_and_ttl():
    store = MemoryStore(max_entries=2)
    store.set("a", Entry(200, [("X", "1")], b"a"), 60)
    store.set("b", Entry(200, [], b"b"), 60)
    store.get("a")
    store.set("c", Entry(200, [], b"c"), 60)
    assert store.get("b") is None and store.get("a").body == b"a"
    store.set("d", Entry(200, [], b"d"), -1)
    assert store.get("d") is None


BROWSER = {"Accept-Encoding": "gzip, deflate, br, zstd"}


def test_pages_and_feeds_go_compressed_to_clients_that_take_gzip(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    post_update(app, client, incident.id, "转移群众1260人。" * 40, title="第一次通报")
    public = app.test_client()
    for path in (f"/incidents/{incident.slug}", "/feeds/bulletins.atom", "/questions"):
        plain = public.get(path)  # renders and keeps both forms
        packed = public.get(path, headers=BROWSER)
        assert packed.headers.get("X-Render-Cache") == "hit", path
        assert packed.headers["Content-Encoding"] == "gzip" and gzip.decompress(packed.data) == plain.data, path
        assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data) / 2, path
        for response in (plain, packed):
            assert {"Cookie", "Accept-Encoding"} <= {v.strip() for v in response.headers["Vary"].split(",")}, path
        # Same content, other coding: the ETag matches only weakly, and a revalidation with it gets a 304.
        assert packed.headers["ETag"].startswith("W/"), path
        again = public.get(path, headers={**BROWSER, "If-None-Match": packed.headers["ETag"]})
        assert again.status_code == 304 and again.data == b"", path
        # A client that refuses gzip, or names none, gets the plain page.
        for refusing in ({"Accept-Encoding": "gzip;q=0, deflate"}, {"Accept-Encoding": "identity"}, {}):
            response = public.get(path, headers=refusing)
            assert "Content-Encoding" not in response.headers and response.data == plain.data, (path, refusing)
    head = public.head(f"/incidents/{incident.slug}", headers=BROWSER)
    assert head.headers["Content-Encoding"] == "gzip" and head.data == b""


def test_stored_entries_keep_their_compressed_form():
    page = "<p>转移群众1260人。</p>".encode() * 100
    entry = Entry.build(200, [("Content-Type", "text/html; charset=utf-8")], page)
    assert gzip.decompress(entry.gz) == page
    again = Entry.loads(entry.dumps())
    assert (again.body, again.gz, again.headers) == (entry.body, entry.gz, entry.headers)
    # Small bodies and images are not worth compressing.
    assert Entry.build(200, [("Content-Type", "text/html")], b"<p>short</p>").gz is None
    assert Entry.build(200, [("Content-Type", "image/png")], page).gz is None
    assert Entry.loads(Entry(200, [], b"plain\nbody").dumps()).body == b"plain\nbody"


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def test_redis_store_shares_pages_between_app_objects(make_app, staff):
    if not _redis_up():
        need_service("no Redis server on 127.0.0.1:6379")
    prefix_db = "redis://127.0.0.1:6379/0"
    store = RedisStore(prefix_db, prefix=f"portal:test:{uuid.uuid4().hex}:")
    store.set("k", Entry(200, [("Content-Type", "text/html")], "页面".encode()), 5)
    assert store.get("k").body == "页面".encode() and store.get("missing") is None
    store.clear()
    first = make_app(CACHE_URL=prefix_db, CACHE_VERSION_TTL=0)
    second = make_app(CACHE_URL=prefix_db, CACHE_VERSION_TTL=0)
    for app in (first, second):
        app.extensions["render_cache"].store.prefix = f"portal:test:{uuid.uuid4().hex[:4]}shared:"
    second.extensions["render_cache"].store.prefix = first.extensions["render_cache"].store.prefix
    try:
        body = first.test_client().get("/questions").data
        hit = second.test_client().get("/questions")
        assert hit.headers.get("X-Render-Cache") == "hit" and hit.data == body
        # The compressed form travels through Redis with it.
        packed = second.test_client().get("/questions", headers={"Accept-Encoding": "gzip"})
        assert packed.headers["Content-Encoding"] == "gzip" and gzip.decompress(packed.data) == body
        client = spokesperson(first)
        open_incident(first, client, title="山体滑坡")
        assert "山体滑坡" in second.test_client().get("/incidents").get_data(as_text=True)
    finally:
        first.extensions["render_cache"].store.clear()


def test_a_slow_token_read_never_puts_back_an_older_version(app, monkeypatch):
    """A thread whose read of the content version began before a publication (and an invalidate) must not leave that
    older version cached: the static tree's writer rendered a feed from it once and put an old file back."""
    import threading

    from portal.services.ops import site

    with app.app_context():
        site.bump(db.session)
        db.session.commit()
        engine = db.engine
    reader = site.TokenReader(lambda: engine, ttl=60)
    real_read, read_done, release = site.read_token, threading.Event(), threading.Event()

    def slow_read(eng):
        token = real_read(eng)
        if threading.current_thread().name == "slow":
            read_done.set()
            release.wait(10)
        return token

    monkeypatch.setattr(site, "read_token", slow_read)
    slow = threading.Thread(target=reader.get, name="slow")
    slow.start()
    assert read_done.wait(10)
    with app.app_context():
        old = db.session.get(SiteState, 1).version
        site.bump(db.session)
        db.session.commit()
    reader.invalidate()
    assert reader.get().version == old + 1
    release.set()
    slow.join(10)
    assert reader.get().version == old + 1
