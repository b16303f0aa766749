"""The static tree (portal/pagetree.py): the worker writes the public pages as files, as the app serves them.

These run the writer in the test process against the real database and a real folder; tests/test_nginx.py serves
the same tree through deploy/nginx.conf.
"""

from __future__ import annotations

import gzip
import os
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from bulletin_helpers import local, open_incident, post_update, spokesperson
from conftest import AuthActions, ask_and_get_code, csrf_token
from sqlalchemy import select

from portal import pagetree
from portal.extensions import db
from portal.models import PageChange, Question, StaffUser
from portal.services.board import questions as board_questions
from portal.services.ops import site
from portal.timeutil import utcnow

SWEEP_FILES = 600  # a sweep of a few seconds on this machine


@pytest.fixture
def tree_app(make_app, tmp_path):
    return make_app(PAGE_TREE_DIR=str(tmp_path / "tree"))


def writer(app) -> pagetree.Writer:
    return pagetree.writer_for(app)


def page_file(app, path: str, name: str = ".page.html") -> bytes | None:
    return app.extensions["page_tree"].read(path, name)


def anonymous(app, path: str, **headers) -> bytes:
    response = app.test_client().get(path, headers=headers)
    assert response.status_code == 200
    return response.get_data()


def test_a_bulletin_is_written_as_the_reader_gets_it_plain_and_compressed(tree_app, staff):
    client = spokesperson(tree_app)
    incident = open_incident(tree_app, client)
    writer(tree_app).run_once()
    post_update(tree_app, client, incident.id, "转移群众1260人，暂无人员伤亡。", title="第一次通报")
    writer(tree_app).run_once()
    body = page_file(tree_app, "/incidents/qingshi-flood")
    assert body is not None and "第一次通报" in body.decode()
    # The same bytes an anonymous reader gets from the app, and the gzip form the app sends browsers.
    assert body == anonymous(tree_app, "/incidents/qingshi-flood")
    packed = page_file(tree_app, "/incidents/qingshi-flood", ".page.html.gz")
    assert packed == anonymous(tree_app, "/incidents/qingshi-flood", **{"Accept-Encoding": "gzip"})
    assert gzip.decompress(packed) == body
    # The lists and feeds that show the update were written with it.
    for path in ("/", "/incidents"):
        assert page_file(tree_app, path) == anonymous(tree_app, path), path
    for path, name in [("/feeds/bulletins.atom", ".feed.atom"), ("/feeds/bulletins.rss", ".feed.rss"),
                       ("/incidents/qingshi-flood/feed.atom", ".feed.atom")]:
        assert "第一次通报" in (page_file(tree_app, path, name) or b"").decode(), path
    # Files are whole (renamed into place) and readable by nginx's user.
    root = tree_app.extensions["page_tree"].root
    leftovers = [n for _, _, names in os.walk(root) for n in names if n.startswith(".tmp-")]
    assert leftovers == []
    assert os.stat(root / "incidents" / "qingshi-flood" / ".page.html").st_mode & 0o777 == 0o644


def test_the_rows_commit_with_the_publication_and_not_without_it(tree_app, staff):
    client = spokesperson(tree_app)
    incident = open_incident(tree_app, client)
    with tree_app.app_context():
        before = db.session.scalar(select(sa.func.count()).select_from(PageChange))
    # A refused form (no body) commits nothing, so it records no page to write either.
    post_update(tree_app, client, incident.id, "", expect=400)
    with tree_app.app_context():
        assert db.session.scalar(select(sa.func.count()).select_from(PageChange)) == before
        # The worker is not running: the rows wait for it.
    post_update(tree_app, client, incident.id, "转移群众。", title="第二次通报")
    with tree_app.app_context():
        paths = list(db.session.scalars(select(PageChange.path).where(PageChange.id > 0)
                                        .order_by(PageChange.id.desc()).limit(7)))
    assert "/incidents/qingshi-flood" in paths and "/feeds/bulletins.atom" in paths


def test_a_hidden_question_is_written_again_and_a_page_that_is_gone_loses_its_file(tree_app, staff):
    number, _ = ask_and_get_code(tree_app.test_client())
    with tree_app.app_context():
        question = db.session.scalar(select(Question).where(Question.number == number))
        office = db.session.scalar(select(StaffUser).where(StaffUser.username == "office"))
        qid = question.id
    office_client = tree_app.test_client()
    AuthActions(office_client).login("office")
    token = csrf_token(office_client, f"/staff/questions/{qid}")
    office_client.post(f"/staff/questions/{qid}/route", data={"department": str(staff.roads), "note": "",
                                                              "csrf_token": token})
    office_client.post(f"/staff/questions/{qid}/reply", data={"body": "网友您好：已安排处理。", "publish": "1",
                                                              "csrf_token": token})
    from conftest import work

    work(tree_app)  # review, if on, is the office's own step; the reply may be published at once
    writer(tree_app).run_once()
    if page_file(tree_app, f"/questions/{number}") is None:
        # The reply waits for review: a reader fetching the page through the app asks for its file.
        anonymous(tree_app, f"/questions/{number}")
        time.sleep(0.5)
        writer(tree_app).run_once()
    shown = page_file(tree_app, f"/questions/{number}")
    assert shown is not None and "已安排处理" in shown.decode()
    with tree_app.app_context():
        question = db.session.get(Question, qid)
        board_questions.hide_question(db.session, db.session.get(StaffUser, office.id), question, "含有个人隐私信息")
        db.session.commit()
    writer(tree_app).run_once()
    hidden = page_file(tree_app, f"/questions/{number}")
    assert hidden == anonymous(tree_app, f"/questions/{number}") and "已安排处理" not in hidden.decode()
    # A file whose page no longer exists (a question removed while the worker was away) is deleted by the sweep.
    tree = tree_app.extensions["page_tree"]
    tree.put("/questions/2000010100001", pagetree.Page(".page.html", b"<p>old</p>", None, None))
    assert tree_app.test_client().get("/questions/2000010100001").status_code == 404
    writer(tree_app).sweep()
    assert page_file(tree_app, "/questions/2000010100001") is None


def test_a_page_read_through_the_app_is_written_and_a_query_is_not(tree_app, staff):
    client = spokesperson(tree_app)
    open_incident(tree_app, client)
    w = writer(tree_app)
    w.run_once()
    tree = tree_app.extensions["page_tree"]
    tree.drop("/incidents/qingshi-flood")
    anonymous(tree_app, "/incidents/qingshi-flood")
    anonymous(tree_app, "/questions?page=1")
    deadline = time.monotonic() + 5
    while page_file(tree_app, "/incidents/qingshi-flood") is None and time.monotonic() < deadline:
        time.sleep(0.1)
        w.run_once()
    assert page_file(tree_app, "/incidents/qingshi-flood") is not None
    # A page with a query string stays with the app: no file stands for it.
    assert not any("page=" in path for path, _ in tree.files())


def test_crisis_mode_rewrites_the_busiest_pages_and_drops_the_rest(tree_app, staff):
    number, _ = ask_and_get_code(tree_app.test_client())
    client = spokesperson(tree_app)
    incident = open_incident(tree_app, client)
    token = csrf_token(client, f"/staff/bulletins/{incident.id}")
    assert client.post(f"/staff/bulletins/{incident.id}/pin", data={"csrf_token": token}).status_code == 303
    w = writer(tree_app)
    w.run_once()
    tree = tree_app.extensions["page_tree"]
    tree.put("/questions/" + number, pagetree.Page(".page.html", b"old", None, None))
    before = page_file(tree_app, "/")
    with tree_app.app_context():
        admin = db.session.scalar(select(StaffUser).where(StaffUser.username == "admin"))
        site.set_switches(db.session, admin, True, False, "山洪灾害应急响应")
        db.session.commit()
    w.run_once()
    home = page_file(tree_app, "/")
    assert home is not None and home == anonymous(tree_app, "/") and home != before and b"crisis-lead" in home
    assert page_file(tree_app, "/incidents/qingshi-flood") == anonymous(tree_app, "/incidents/qingshi-flood")
    # Every other page may show the old banner: its file is gone until it is written again.
    assert page_file(tree_app, "/questions/" + number) is None


def test_a_crisis_cache_control_of_its_own_keeps_pages_with_the_app(make_app, tmp_path, staff):
    """nginx gives every page file one Cache-Control: pages that must carry another are not written."""
    crisis_app = make_app(PAGE_TREE_DIR=str(tmp_path / "tree-c"), PAGE_CACHE_CONTROL_CRISIS="public, max-age=5")
    client = spokesperson(crisis_app)
    open_incident(crisis_app, client)
    w = writer(crisis_app)
    w.run_once()
    assert page_file(crisis_app, "/incidents/qingshi-flood") is not None
    with crisis_app.app_context():
        admin = db.session.scalar(select(StaffUser).where(StaffUser.username == "admin"))
        site.set_switches(db.session, admin, True, False, "山洪灾害应急响应")
        db.session.commit()
    w.run_once()
    assert page_file(crisis_app, "/incidents/qingshi-flood") is None
    # The feeds' Cache-Control does not change with the mode: they stay files.
    assert page_file(crisis_app, "/feeds/bulletins.atom", ".feed.atom") is not None


def test_a_scheduled_update_is_written_when_it_appears(tree_app, staff):
    client = spokesperson(tree_app)
    incident = open_incident(tree_app, client)
    w = writer(tree_app)
    w.run_once()
    due = utcnow() + timedelta(seconds=61)
    post_update(tree_app, client, incident.id, "今晚20时起恢复供水。", title="供水恢复预告", when="later",
                publish_at=local(due))
    w.run_once()
    assert "供水恢复预告" not in page_file(tree_app, "/incidents/qingshi-flood").decode()
    with tree_app.app_context():
        due_rows = list(db.session.scalars(select(PageChange.due_at).where(PageChange.due_at > utcnow())))
    # The console takes minutes: the rows are due at the minute it chose, which has not come yet.
    assert due_rows and min(due_rows) <= due
    # Let the time come: move the update and its rows to a moment ago, as the clock would.
    with tree_app.app_context():
        from portal.models import Update

        moment = utcnow() - timedelta(seconds=1)
        db.session.execute(sa.update(Update).where(Update.publish_at > utcnow()).values(publish_at=moment))
        db.session.execute(sa.update(PageChange).where(PageChange.due_at > utcnow()).values(due_at=moment))
        db.session.commit()
    w.run_once()
    assert "供水恢复预告" in page_file(tree_app, "/incidents/qingshi-flood").decode()


@contextmanager
def long_sweep(make_app, tmp_path):
    """An app, its spokesperson's client and incident, and a sweep running in a thread, past the busiest pages
    (the incident's among them), with hundreds of files still to go: those of pages gone while the worker was away,
    which it renders (a 404) and deletes. On the way out: the sweep has done all its work."""
    app = make_app(PAGE_TREE_DIR=str(tmp_path / "tree"), PAGE_TREE_POLL_SECONDS=0.05, PAGE_TREE_SWEEP_PAGES=100000)
    client = spokesperson(app)
    incident = open_incident(app, client)
    writer(app).run_once()
    tree = app.extensions["page_tree"]
    gone = [f"/questions/20000101{n:05d}" for n in range(SWEEP_FILES)]
    for path in gone:
        tree.put(path, pagetree.Page(".page.html", b"<p>old</p>", None, None))
    sweep = threading.Thread(target=writer(app).sweep)
    sweep.start()
    try:
        while all(page_file(app, path) is not None for path in gone[:: max(1, SWEEP_FILES // 50)]):
            assert sweep.is_alive(), "the sweep ended before deleting anything"
            time.sleep(0.01)
        yield app, client, incident, sweep
    finally:
        sweep.join()
    assert [path for path in gone if page_file(app, path) is not None] == []


def test_a_publication_made_during_a_long_sweep_is_written_before_the_sweep_ends(make_app, tmp_path, staff):
    """A sweep of hundreds of files takes seconds, more on a loaded machine; a publication made meanwhile does not
    wait for its end (on a slow machine bench/load.py measured up to 1.4 s from commit to visible; a sweep of a
    few hundred pages alone would take longer)."""
    with long_sweep(make_app, tmp_path) as (app, client, incident, sweep):
        posted = time.monotonic()
        post_update(app, client, incident.id, "抢修队伍已进村。", title="第四次通报")
        while "第四次通报" not in page_file(app, "/incidents/qingshi-flood").decode():
            assert sweep.is_alive(), f"the update's page waited for the whole sweep ({time.monotonic() - posted:.1f} s)"
            time.sleep(0.01)


def test_a_websub_ping_does_not_wait_for_a_sweep_yet_finds_the_new_feed(make_app, tmp_path, staff):
    """catch_up, which a WebSub ping calls before the hub's readers fetch the feed, writes what is due and returns
    while the sweep goes on."""
    with long_sweep(make_app, tmp_path) as (app, client, incident, sweep):
        post_update(app, client, incident.id, "抢修队伍已进村。", title="第五次通报")
        pagetree.catch_up(app)
        assert sweep.is_alive(), "catch_up waited for the whole sweep"
        for path, name in [("/incidents/qingshi-flood/feed.atom", ".feed.atom"), ("/feeds/bulletins.atom", ".feed.atom")]:
            assert "第五次通报" in (page_file(app, path, name) or b"").decode(), path


def test_every_servers_tree_gets_the_change(tree_app, make_app, staff, tmp_path):
    """Several servers: each worker writes its own tree from the shared database's rows."""
    other = make_app(PAGE_TREE_DIR=str(tmp_path / "tree-2"))
    client = spokesperson(tree_app)
    incident = open_incident(tree_app, client)
    writers = [writer(tree_app), writer(other)]
    for w in writers:
        w.run_once()
    post_update(tree_app, client, incident.id, "道路已抢通。", title="第三次通报")
    for w in writers:
        w.run_once()
    for app in (tree_app, other):
        assert "第三次通报" in page_file(app, "/incidents/qingshi-flood").decode()


def test_a_path_that_is_not_a_plain_url_never_becomes_a_file(tmp_path):
    tree = pagetree.PageTree(tmp_path / "tree")
    for path in ("/../etc/passwd", "/a/./b", "relative", "/a//b", "/.page.html", "/a/\x00"):
        assert tree.folder(path) is None, path
    assert tree.folder("/") == tmp_path / "tree"
    assert tree.folder("/incidents/青石镇") == tmp_path / "tree" / "incidents" / "青石镇"


def test_an_nginx_host_without_an_app_server_writes_its_tree_by_command(tree_app, make_app, staff, tmp_path):
    """`flask page-tree --once` (the loop without --once runs as deploy/portal-pages.service)."""
    client = spokesperson(tree_app)
    open_incident(tree_app, client)
    nginx_host = make_app(PAGE_TREE_DIR=str(tmp_path / "nginx-host"))
    output = nginx_host.test_cli_runner().invoke(args=["page-tree", "--once"]).output
    assert "写入" in output
    assert page_file(nginx_host, "/incidents/qingshi-flood") == anonymous(tree_app, "/incidents/qingshi-flood")
    without = make_app(PAGE_TREE_DIR="")
    assert "PORTAL_PAGE_TREE_DIR" in without.test_cli_runner().invoke(args=["page-tree", "--once"]).output


def test_a_server_without_a_tree_still_records_what_changed_and_old_rows_are_pruned(app, staff):
    """An app server or a command without PORTAL_PAGE_TREE_DIR publishes: the nginx hosts' writers must hear of it."""
    client = spokesperson(app)
    open_incident(app, client)
    with app.app_context():
        paths = set(db.session.scalars(select(PageChange.path)))
        assert "/incidents/qingshi-flood" in paths
        db.session.execute(sa.update(PageChange).values(due_at=utcnow() - timedelta(days=2)))
        db.session.commit()
    from conftest import work

    assert work(app)["page_changes_pruned"] >= 1
    with app.app_context():
        assert db.session.scalar(select(sa.func.count()).select_from(PageChange)) == 0


def test_a_question_page_is_rewritten_only_if_the_tree_holds_it(tree_app, staff):
    """An import of thousands of answered questions must not make every server write them all: a question page's
    file is written when a reader asked for it, and rewritten when it changes."""
    numbers = [ask_and_get_code(tree_app.test_client())[0] for _ in range(2)]
    with tree_app.app_context():
        for question in db.session.scalars(select(Question).where(Question.number.in_(numbers))):
            question.status = "published"
        db.session.commit()
    writer(tree_app).run_once()
    assert [page_file(tree_app, f"/questions/{n}") for n in numbers] == [None, None]
    anonymous(tree_app, f"/questions/{numbers[0]}")  # a reader asks the app: the page is recorded to write
    deadline = time.monotonic() + 5
    while page_file(tree_app, f"/questions/{numbers[0]}") is None and time.monotonic() < deadline:
        time.sleep(0.1)
        writer(tree_app).run_once()
    assert page_file(tree_app, f"/questions/{numbers[0]}") is not None
    assert page_file(tree_app, f"/questions/{numbers[1]}") is None


def test_the_page_map_gives_every_millisecond_its_tenth_and_only_anonymous_reads_a_place():
    """deploy/nginx-tick.conf: `*.NNN.GET` and `*.NNN.HEAD` (the milliseconds of $msec, then the method with nothing
    after it) -> the tree through tick NNN // 100; all 2,000 of them, and nothing else."""
    from server_helpers import ROOT

    text = (ROOT / "deploy" / "nginx-tick.conf").read_text()
    entries = dict(line.strip().rstrip(";").split() for line in text.splitlines() if line.strip().startswith("*."))
    assert len(entries) == 2000
    assert all(entries[f"*.{ms:03d}.{method}"] == f"/.tick/{ms // 100}"
               for ms in range(1000) for method in ("GET", "HEAD"))
    assert 'map "$msec.$request_method$is_args$cookie_session$cookie_remember_token" $portal_page' in text
    assert "hostnames;" in text and "default /-;" in text


def test_a_site_served_over_https_is_written_too(make_app, tmp_path, staff):
    """Over https the app adds HSTS (nginx's TLS server block sends it for files): the pages are still files."""
    secure = make_app(PAGE_TREE_DIR=str(tmp_path / "tree-s"), BASE_URL="https://gov.example")
    client = spokesperson(secure)
    open_incident(secure, client)
    writer(secure).run_once()
    assert page_file(secure, "/incidents/qingshi-flood") == anonymous(secure, "/incidents/qingshi-flood")
    feed = page_file(secure, "/feeds/bulletins.atom", ".feed.atom")
    assert feed is not None and b"https://gov.example/" in feed
