"""Index writes from several processes: the outbox and the one-writer lock lose nothing and never raise."""

from __future__ import annotations

import multiprocessing
import time

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Question
from portal.search import SearchQuery, backend
from tests.conftest import BASE_CONFIG

PER_PROCESS = 15


def _publisher(url: str, index_dir: str, tag: str, errors) -> None:
    """Ask, answer and publish questions, draining the outbox after each, as a web worker's thread would."""
    from portal import create_app
    from portal.models import StaffUser
    from portal.search.indexer import drain
    from portal.services.board.questions import NewQuestion, publish_reply, save_reply, submit_question
    from portal.services.clock import DueRule

    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": url, "SEARCH_INDEX_DIR": index_dir})
    try:
        with app.app_context():
            office = db.session.scalar(select(StaffUser).where(StaffUser.username == "office"))
            for i in range(PER_PROCESS):
                q, _ = submit_question(
                    db.session,
                    NewQuestion(title=f"并发测试{tag}第{i}条标题", body=f"并发写入索引的测试内容{tag}{i}，请勿删除。", category="咨询"),
                    (f"fp-{tag}-{i}",), 1000, DueRule(),
                )
                save_reply(db.session, office, q, f"网友您好：这是第{i}条答复，编号{tag}{i}。")
                publish_reply(db.session, office, q)
                drain(db.session, backend(), index_dir, blocking=False)
    except Exception as exc:  # noqa: BLE001 - reported to the parent test
        errors.put(f"{tag}: {exc!r}")


def test_two_processes_publishing_at_once_lose_no_document(app, staff, database_template):
    with app.app_context():
        from portal.search.indexer import drain, rebuild

        root = app.config["SEARCH_INDEX_DIR"]
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        if backend().name != "whoosh":
            pytest.skip("the lock matters for the Whoosh backend")
        rebuild(db.session, backend(), root)
    ctx = multiprocessing.get_context("spawn")
    errors = ctx.Queue()
    procs = [ctx.Process(target=_publisher, args=(url, root, tag, errors)) for tag in ("甲", "乙")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    reported = []
    while not errors.empty():
        reported.append(errors.get())
    assert reported == []
    assert all(p.exitcode == 0 for p in procs)
    with app.app_context():
        drain(db.session, backend(), root)  # whatever a process left in the outbox
        published = db.session.scalar(select(func.count(Question.id)).where(Question.status == "published"))
        assert published == 2 * PER_PROCESS
        result = backend().search(SearchQuery(text="并发", per_page=50))
        assert result.total == 2 * PER_PROCESS


@pytest.fixture
def stop_indexer():
    from portal.search.indexer import stop_threads

    yield
    stop_threads()


def test_indexer_thread_makes_a_published_answer_searchable(make_app, staff, stop_indexer):
    app = make_app(SEARCH_INDEXER_THREAD=True)
    client = app.test_client()
    from tests.conftest import AuthActions, ask_and_get_code, csrf_token

    client.get("/")  # the first request starts this process's indexer thread (it builds the missing index)
    number, _ = ask_and_get_code(client, title="东坪乡自来水发黄", body="东坪乡这几天自来水发黄有异味，能不能检测一下？")
    AuthActions(client).login("office")
    with app.app_context():
        qid = db.session.scalar(select(Question.id).where(Question.number == number))
    token = csrf_token(client, f"/staff/questions/{qid}")
    client.post(f"/staff/questions/{qid}/reply",
                data={"body": "网友您好：经检测，水质符合标准，发黄系管道冲洗所致。", "publish": "1", "csrf_token": token})
    deadline = time.monotonic() + 20
    found = False
    while time.monotonic() < deadline and not found:
        found = f"/questions/{number}" in client.get("/search?q=自来水").get_data(as_text=True)
        time.sleep(0.1)
    with app.app_context():
        from portal.models import SearchOutbox

        left = db.session.scalar(select(func.count(SearchOutbox.id)))
        count = backend().count()
    assert found, f"the indexer thread did not index the published answer (outbox {left}, index {count})"
