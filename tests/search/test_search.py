"""Search: Chinese queries find the right answers, filters narrow, hidden questions vanish, the index recovers.

Every test runs on each backend: Whoosh (embedded) always, PostgreSQL when the suite runs on PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Question
from portal.search import SearchQuery, backend
from portal.search.indexer import drain, rebuild
from tests.conftest import csrf_token

DOCS = [
    ("s-1", "青石镇解放路路灯长期不亮", "青石镇解放路中段的路灯坏了一个多月，晚上出行很不安全。", "住建局", "投诉",
     "网友您好：经核实，解放路路灯线路老化，已于本周更换，现已恢复照明。", "2026-03-02 10:00:00"),
    ("s-2", "G318国道柳湾镇段大货车超速", "G318国道经过柳湾镇的路段经常有大货车超速行驶，建议安装测速设备。", "交通局", "建议",
     "网友您好：我局已联合交警在该路段增设两处测速点。", "2026-04-10 09:00:00"),
    ("s-3", "孩子上小学需要哪些材料", "外地户籍孩子在县城上一年级需要准备什么材料？", "教育局", "咨询",
     "网友您好：随迁子女入学需提供居住证、户口簿和出生医学证明。", "2026-04-20 15:00:00"),
    ("s-4", "医保报销比例是多少", "在县医院住院，医保报销比例是多少？异地就医怎么报销？", "", "咨询",
     "网友您好：县域内住院报销比例为百分之七十五，异地就医需先备案。", "2026-05-05 11:00:00"),
    ("s-5", "3路公交首班车能否提前", "3路公交首班车是早上7点，上早班的人赶不上，能否提前到6点？", "交通局", "建议",
     "网友您好：自下月起3路公交首班车提前至6点。", "2026-05-06 08:00:00"),
]


@pytest.fixture(params=["whoosh", "postgres"])
def search_app(request, make_app, database_template, tmp_path):
    """An app on the requested backend with departments and five published questions, indexed."""
    kind = request.param
    if kind == "postgres" and database_template[0] != "postgresql":
        pytest.skip("the PostgreSQL backend is tested when the suite runs on PostgreSQL (PORTAL_TEST_DATABASE_URL)")
    app = make_app(SEARCH_BACKEND=kind, SEARCH_INDEX_DIR=str(tmp_path / "idx"))
    with app.app_context():
        from portal.models import Department
        from portal.services.board.importer import import_lines
        from portal.services.clock import DueRule

        db.session.add_all([Department(name="测试县住建局", slug="zjj"), Department(name="测试县交通局", slug="jtj"),
                            Department(name="测试县教育局", slug="jyj")])
        db.session.commit()
        names = {"住建局": "测试县住建局", "交通局": "测试县交通局", "教育局": "测试县教育局", "": ""}
        lines = [json.dumps({"external_id": e, "title": t, "body": b, "department": names[d], "category": c,
                             "reply": r, "asked_at": at, "replied_at": at.replace(" 0", " 1").replace(" 15", " 16")},
                            ensure_ascii=False) for e, t, b, d, c, r, at in DOCS]
        import_lines(db.session, lines, DueRule())
        rebuild(db.session, backend(), app.config["SEARCH_INDEX_DIR"])
        drain(db.session, backend(), app.config["SEARCH_INDEX_DIR"])
    return app


def _titles(app, text, **filters):
    with app.app_context():
        result = backend().search(SearchQuery(text=text, **filters))
        return [h.title for h in result.hits], result


def test_chinese_words_find_the_right_question(search_app):
    titles, result = _titles(search_app, "路灯")
    assert titles == ["青石镇解放路路灯长期不亮"] and result.total == 1
    titles, _ = _titles(search_app, "随迁子女 入学")  # words of the reply, not the title
    assert titles == ["孩子上小学需要哪些材料"]
    titles, _ = _titles(search_app, "报销比例")
    assert titles[0] == "医保报销比例是多少"


def test_mixed_latin_digits_and_full_width(search_app):
    assert _titles(search_app, "G318")[0] == ["G318国道柳湾镇段大货车超速"]
    assert _titles(search_app, "ｇ３１８ 超速")[0] == ["G318国道柳湾镇段大货车超速"]
    assert _titles(search_app, "3路公交")[0] == ["3路公交首班车能否提前"]


def test_all_words_by_default_then_any_word(search_app):
    titles, result = _titles(search_app, "公交 首班车")
    assert titles == ["3路公交首班车能否提前"] and result.matched_all_words
    titles, result = _titles(search_app, "路灯 测速")  # no question has both
    assert set(titles) == {"青石镇解放路路灯长期不亮", "G318国道柳湾镇段大货车超速"}
    assert not result.matched_all_words


def test_department_category_and_date_filters_and_facets(search_app):
    from datetime import date

    titles, result = _titles(search_app, "网友")
    _, everything = _titles(search_app, "", category="建议")
    assert sorted(t for t in everything.hits and [h.title for h in everything.hits]) == sorted(
        ["G318国道柳湾镇段大货车超速", "3路公交首班车能否提前"])
    titles, result = _titles(search_app, "公交 OR 超速".replace(" OR ", " "), department="jtj")
    assert set(titles) <= {"G318国道柳湾镇段大货车超速", "3路公交首班车能否提前"}
    titles, _ = _titles(search_app, "报销", department="jtj")
    assert titles == []
    _, result = _titles(search_app, "", date_from=date(2026, 4, 1), date_to=date(2026, 4, 30))
    assert sorted(h.title for h in result.hits) == sorted(["G318国道柳湾镇段大货车超速", "孩子上小学需要哪些材料"])
    _, result = _titles(search_app, "首班车 超速 路灯 材料 报销")
    assert result.total == 5 and result.facets == {"zjj": 1, "jtj": 2, "jyj": 1}


def test_highlights_are_escaped_with_marks(search_app):
    _, result = _titles(search_app, "路灯")
    hit = result.hits[0]
    assert "<mark>路灯</mark>" in hit.title_html and "<mark>" in hit.snippet_html


def test_hidden_question_vanishes_and_comes_back(search_app):
    app = search_app
    with app.app_context():
        from portal.models import StaffUser
        from portal.services.accounts import signin
        from portal.services.board.questions import hide_question, unhide_question

        office = signin.create_user(db.session, "office", "a-long-password", "office")
        q = db.session.scalar(select(Question).where(Question.external_id == "s-1"))
        number = q.number
        hide_question(db.session, office, q, "含有个人信息")
        drain(db.session, backend(), app.config["SEARCH_INDEX_DIR"])
        gone = backend().search(SearchQuery(text="路灯"))
        assert gone.hits == [] and gone.total == 0 and sum(gone.facets.values()) == 0
        hidden = app.test_client().get(f"/questions/{number}")  # the address says "under review", shows nothing
        assert hidden.status_code == 200 and "正在审核中" in hidden.get_data(as_text=True)
        assert "青石镇解放路路灯长期不亮" not in hidden.get_data(as_text=True)
        office = db.session.get(StaffUser, office.id)
        unhide_question(db.session, office, db.session.get(Question, q.id))
        drain(db.session, backend(), app.config["SEARCH_INDEX_DIR"])
        back = backend().search(SearchQuery(text="路灯"))
        assert [h.title for h in back.hits] == ["青石镇解放路路灯长期不亮"]
        assert back.total == 1 and sum(back.facets.values()) == 1  # counted once, not again from its old copy
    assert app.test_client().get(f"/questions/{number}").status_code == 200


def test_similar_questions_for_the_ask_page(search_app):
    client = search_app.test_client()
    data = client.get("/search/similar?title=解放路的路灯又坏了").get_json()
    assert data["items"] and data["items"][0]["title"] == "青石镇解放路路灯长期不亮"
    assert data["items"][0]["url"].startswith("/questions/")
    assert client.get("/search/similar?title=").get_json() == {"items": []}


def test_search_page(search_app):
    client = search_app.test_client()
    page = client.get("/search?q=路灯")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "找到 1 条" in html and "<mark>路灯</mark>" in html
    assert "Set-Cookie" not in page.headers
    none = client.get("/search?q=火星基地").get_data(as_text=True)
    assert "没有找到" in none and "我要留言" in none
    for bad in ["/search?q=" + "长" * 101, "/search?q=a&from=2026-13-01", "/search?q=a&page=0",
                "/search?q=a&department=nope", "/search?q=a&from=2026-05-01&to=2026-04-01"]:
        assert client.get(bad).status_code == 400, bad
    for odd in ['/search?q="', "/search?q=(((", "/search?q=AND OR NOT", "/search?q=*?~^", "/search?q=%00",
                "/search?q=title:x", "/search?q=' OR 1=1 --"]:
        assert client.get(odd).status_code == 200, odd
    assert 'role="search"' in client.get("/").get_data(as_text=True)  # a search box on every public page


def test_published_answer_becomes_searchable_through_the_outbox(search_app):
    app = search_app
    client = app.test_client()
    from tests.conftest import AuthActions, ask_and_get_code

    with app.app_context():
        from portal.services.accounts import signin

        signin.create_user(db.session, "office", "a-long-password", "office")
    number, _ = ask_and_get_code(client, title="人民公园厕所夜间上锁", body="人民公园的公共厕所晚上八点就上锁，很不方便。")
    auth = AuthActions(client)
    auth.login("office", "a-long-password")
    with app.app_context():
        qid = db.session.scalar(select(Question.id).where(Question.number == number))
    token = csrf_token(client, f"/staff/questions/{qid}")
    client.post(f"/staff/questions/{qid}/reply",
                data={"body": "网友您好：公园厕所开放时间已延长至晚上十点。", "publish": "1", "csrf_token": token})
    with app.app_context():
        assert drain(db.session, backend(), app.config["SEARCH_INDEX_DIR"]) >= 1
        assert [h.number for h in backend().search(SearchQuery(text="公园 厕所")).hits] == [number]


def test_missing_index_shows_a_notice_then_rebuilds(make_app, tmp_path):
    app = make_app(SEARCH_INDEX_DIR=str(tmp_path / "idx2"))
    client = app.test_client()
    page = client.get("/search?q=路灯")
    assert page.status_code == 503 and "搜索索引正在建立" in page.get_data(as_text=True)
    with app.app_context():
        from portal.search.indexer import rebuild_if_missing

        assert rebuild_if_missing(db.session, backend(), app.config["SEARCH_INDEX_DIR"]) == 0
    assert client.get("/search?q=路灯").status_code == 200


def test_deleted_or_corrupt_index_recovers(search_app):
    app = search_app
    root = Path(app.config["SEARCH_INDEX_DIR"])
    with app.app_context():
        if backend().name != "whoosh":
            pytest.skip("index files exist only for the Whoosh backend")
        from portal.search.indexer import rebuild_if_missing

        shutil.rmtree(root)
        assert app.test_client().get("/search?q=路灯").status_code == 503
        assert rebuild_if_missing(db.session, backend(), str(root)) == 5
        assert backend().search(SearchQuery(text="路灯")).total == 1
        current = root / (root / "CURRENT").read_text().strip()
        for f in current.glob("*.toc"):
            f.write_bytes(b"garbage")
        assert not backend().ready()
        assert rebuild_if_missing(db.session, backend(), str(root)) == 5
        assert backend().search(SearchQuery(text="路灯")).total == 1


def test_an_empty_index_keeps_answering(tmp_path, monkeypatch):
    """No question published yet: every search answers "nothing found", not 503 from the second check on."""
    from portal.search import whoosh_backend as wb

    monkeypatch.setattr(wb, "REFRESH_EVERY", 0.0)  # check for new commits on every search
    search = wb.WhooshBackend(str(tmp_path / "idx"))
    search.rebuild([])
    assert [search.search(SearchQuery(text=f"路灯{n}")).total for n in range(3)] == [0, 0, 0]


def _pretend_built_by(search, analyzer: str) -> None:
    if search.name == "whoosh":
        (search.current_dir() / "ANALYZER").write_text(analyzer)
    else:
        from sqlalchemy import text

        db.session.execute(text("UPDATE search_version SET analyzer = :a"), {"a": analyzer})
        db.session.commit()


def test_index_built_by_another_segmenter_is_rebuilt(search_app):
    """The index records the segmenter and rules that built it; an indexer with others rebuilds it."""
    from portal.search.analysis import ANALYZER
    from portal.search.indexer import rebuild_if_stale

    app = search_app
    root = app.config["SEARCH_INDEX_DIR"]
    with app.app_context():
        search = backend()
        assert search.stale() is None
        assert rebuild_if_stale(db.session, search, root) is None  # current: nothing to do
        _pretend_built_by(search, "jieba 0.42.1; rules 1")
        reason = search.stale()
        assert "jieba 0.42.1" in reason and ANALYZER in reason and "flask reindex" in reason
        assert _titles(app, "路灯")[0] == ["青石镇解放路路灯长期不亮"]  # meanwhile the old index still answers
        assert rebuild_if_stale(db.session, search, root) == 5
        assert search.stale() is None
        assert _titles(app, "路灯")[0] == ["青石镇解放路路灯长期不亮"]


def test_indexer_rebuilds_an_index_of_another_segmenter_when_it_starts(search_app):
    import time

    from portal.search.indexer import IndexerThread

    app = search_app
    with app.app_context():
        _pretend_built_by(backend(), "jieba 0.42.1; rules 1")
    thread = IndexerThread(app)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with app.app_context():
                if backend().stale() is None:
                    break
            time.sleep(0.1)
    finally:
        thread.stopping.set()
        thread.wake.set()
        thread.join(10)
    with app.app_context():
        assert backend().stale() is None
        assert backend().search(SearchQuery(text="路灯")).total == 1


def test_fast_index_path_matches_whoosh_own(tmp_path):
    """The rebuild's shortcuts store exactly what Whoosh's own code would: the same postings and field lengths.

    ChineseText counts words without Token objects; the field-length lookup reads each length column once. Both
    are checked against Whoosh's own TEXT field and its own per-document reader, so a Whoosh upgrade that changes
    either shows here rather than as quietly different rankings.
    """
    from whoosh import fields, index

    from portal.search import whoosh_schema as wb
    from portal.search.analysis import chinese_analyzer

    plain = fields.TEXT(analyzer=chinese_analyzer(), phrase=False)
    fast = wb.ChineseText(analyzer=chinese_analyzer(), phrase=False)
    texts = [t + "\n" + b + "\n" + r for _, t, b, _, _, r, _ in DOCS] + ["ＡＢＣ１２３　全角 abc abc abc", "", "的 了 ！"]
    for text in texts:
        assert sorted(fast.index(text)) == sorted(plain.index(text))

    ix = index.create_in(str(tmp_path), wb.make_schema())
    with ix.writer() as writer:
        for i, text in enumerate(texts):
            writer.add_document(qid=str(i), text=text, title=text[:12])
    with ix.reader() as reader:
        per_doc = reader._perdoc  # the segment's W3PerDocReader
        for field in ("text", "title"):
            ours = [per_doc.doc_field_length(n, field) for n in range(len(texts) + 1)]
            theirs = [wb._whoosh_doc_field_length(per_doc, n, field) for n in range(len(texts) + 1)]
            assert ours == theirs
            assert any(ours) and None in ours  # real lengths, and the empty documents' None


def test_indexes_built_before_the_schema_moved_still_open():
    """Whoosh pickles the field class by its import path; indexes written before the move name whoosh_backend."""
    import pickle

    from portal.search.analysis import chinese_analyzer
    from portal.search.whoosh_schema import ChineseText

    old = pickle.dumps(ChineseText(analyzer=chinese_analyzer()), protocol=0)
    old = old.replace(b"portal.search.whoosh_schema", b"portal.search.whoosh_backend")
    assert b"portal.search.whoosh_backend" in old
    assert isinstance(pickle.loads(old), ChineseText)  # our own bytes


def test_rebuild_in_several_rounds_keeps_every_document(tmp_path, monkeypatch):
    """A large rebuild writes in rounds (segments); every document is found, counted and faceted once."""
    from datetime import UTC, datetime

    from portal.search import IndexDocument
    from portal.search import whoosh_backend as wb

    monkeypatch.setattr(wb, "REBUILD_CHUNK", 3)
    docs = [IndexDocument(question_id=i, number=f"Q{i:04d}", title=f"{t}（第{i}条）", body=b, reply=r,
                          department=d and f"d{len(d)}", department_name=d, category=c,
                          published_at=datetime(2026, 3, 1 + i, tzinfo=UTC))
            for i, (_, t, b, d, c, r, _) in enumerate(DOCS * 2, start=1)]
    backend_ = wb.WhooshBackend(str(tmp_path / "idx"))
    assert backend_.rebuild(docs) == 10
    assert backend_.count() == 10
    assert len(backend_._searcher()[0].reader().leaf_readers()) > 1  # really several segments
    result = backend_.search(SearchQuery(text="", per_page=20))  # browse: every document, newest first
    assert result.total == 10 and len(result.hits) == 10
    assert sorted(h.question_id for h in result.hits) == list(range(1, 11))
    assert sum(result.facets.values()) == 8  # the two questions without a department are not a facet
    found = backend_.search(SearchQuery(text="路灯"))
    assert found.total == 2 and sum(found.facets.values()) == 2
    assert sorted(h.question_id for h in found.hits) == [1, 6]  # the same question from two rounds


def test_the_worker_rebuilds_an_index_of_another_segmenter(search_app, monkeypatch):
    """The background worker is the indexer now: its first index run rebuilds an index another segmenter built."""
    from conftest import work

    from portal import jobs

    monkeypatch.setattr(jobs, "_analyzer_checked", False)
    app = search_app
    with app.app_context():
        _pretend_built_by(backend(), "jieba 0.42.1; rules 1")
        assert backend().stale() is not None
    counts = work(app)
    with app.app_context():
        assert backend().stale() is None
        assert backend().search(SearchQuery(text="路灯")).total == 1
    assert counts.get("index_rebuilt", 0) >= 1
