"""Forwarding memos: numbering per year, the printable page, the list with status."""

from __future__ import annotations

from desk_helpers import bj, make_question

from portal.extensions import db
from portal.models import Memo, Question, StaffUser
from portal.services.desk import memos
from tests.conftest import csrf_token


def _office(app):
    return db.session.query(StaffUser).filter_by(username="office").one()


def test_memos_are_numbered_in_sequence_per_year(app, staff):
    ids = [make_question(app, i, bj(2026, 11, 2, 9 + i), staff.roads) for i in range(1, 4)]
    with app.app_context():
        office = _office(app)
        first = memos.create_memo(db.session, office, ids[:2], "道路塌陷舆情", staff.roads, "摘要", "建议连夜处置")
        second = memos.create_memo(db.session, office, [ids[2]], "校车舆情", None, "", "请教育局核实")
        assert (first.seq, second.seq) == (1, 2) and first.year == second.year
        assert first.number == f"〔{first.year}〕第1号"
        # A new year starts again at 1.
        db.session.add(Memo(year=first.year + 1, seq=1, title="x", suggestion="y", status="draft"))
        db.session.commit()
        assert memos.next_seq(db.session, first.year) == 3
        assert memos.next_seq(db.session, first.year + 1) == 2
        assert all(db.session.get(Question, i).is_major for i in ids)


def test_memo_page_list_and_status(app, client, auth, staff):
    qid = make_question(app, 1, bj(2026, 11, 2, 9), staff.roads, title="北河桥路面塌陷")
    auth.login("office")
    token = csrf_token(client, f"/staff/questions/{qid}")
    assert client.post(f"/staff/questions/{qid}/major", data={"csrf_token": token}).status_code == 303
    token = csrf_token(client, "/staff/memos")
    response = client.post("/staff/memos", data={"csrf_token": token, "ids": [str(qid)], "title": "北河桥塌陷",
                                                 "department": str(staff.roads), "summary": "网民集中反映",
                                                 "suggestion": "建议交通局立即设置围挡"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "网络舆情抄告单" in page and "第1号" in page and "北河桥路面塌陷" in page
    assert "领导批示" in page and "memo.css" in page and "待报送" in page
    assert "列入抄告单" in page  # the item's timeline
    with app.app_context():
        memo_id = db.session.query(Memo.id).scalar()
    client.post(f"/staff/memos/{memo_id}/advance", data={"csrf_token": token})
    listing = client.get("/staff/memos").get_data(as_text=True)
    assert "北河桥塌陷" in listing and "已报送，待批示" in listing
    bad = client.post("/staff/memos", data={"csrf_token": token, "title": "", "suggestion": ""})
    assert bad.status_code == 400 and "请填写抄告事项" in bad.get_data(as_text=True)


def test_print_css_is_a4():
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "portal" / "static" / "css" / "memo.css").read_text()
    assert "size: A4" in css and "@media print" in css
