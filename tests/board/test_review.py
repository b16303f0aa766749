"""Review before publication (审核): a responder's reply goes to the office, which returns it with a comment or
publishes it; the office's own replies publish directly; the words on the desk and on /track say which."""

from __future__ import annotations

from conftest import ask_and_get_code
from handling_helpers import REPLY, actions, asked_and_routed, post, question_id, signed_in, track
from sqlalchemy import select

from portal.extensions import db
from portal.models import Question


def _status(app, qid: int) -> str:
    with app.app_context():
        return db.session.scalar(select(Question.status).where(Question.id == qid))


def test_responder_submits_office_returns_responder_edits_office_publishes(app, staff):
    number, code, qid = asked_and_routed(app, staff)
    citizen = app.test_client()
    responder = signed_in(app, "responder")
    office = signed_in(app, "office")

    # The responder's page offers 提交审核, not 保存并发布.
    page = responder.get(f"/staff/questions/{qid}").get_data(as_text=True)
    assert "提交审核" in page and "保存并发布" not in page

    # Saved and submitted: not public, the citizen reads 答复审核中, the office is told.
    r = post(responder, qid, "reply", body=REPLY, submit_review="提交审核")
    assert r.status_code == 303
    assert _status(app, qid) == "review"
    assert citizen.get(f"/questions/{number}").status_code == 404
    assert "答复审核中" in track(citizen, number, code)
    office_home = office.get("/staff/").get_data(as_text=True)
    assert "待审核答复" in office_home and "答复审核中" in office_home
    assert number in office.get("/staff/desk?status=review").get_data(as_text=True)
    assert number not in office.get("/staff/desk?status=routed").get_data(as_text=True)

    # While it waits, the responder can neither publish it nor change it.
    assert post(responder, qid, "publish").status_code == 403
    locked = post(responder, qid, "reply", body=REPLY + "（改）", save="1")
    assert locked.status_code == 409 and "审核" in locked.get_data(as_text=True)
    assert citizen.get(f"/questions/{number}").status_code == 404

    # The office returns it; an empty comment is refused in Chinese and nothing changes.
    empty = post(office, qid, "review/return", comment="")
    assert empty.status_code == 400 and "请填写退回修改的意见" in empty.get_data(as_text=True)
    assert _status(app, qid) == "review"
    r = post(office, qid, "review/return", comment="请写明修复的具体日期和巡查安排")
    assert r.status_code == 303
    assert _status(app, qid) == "answered"
    assert "答复拟稿中" in track(app.test_client(), number, code)
    responder_home = responder.get("/staff/").get_data(as_text=True)
    assert "答复退回修改" in responder_home and "请写明修复的具体日期和巡查安排" in responder_home
    page = responder.get(f"/staff/questions/{qid}").get_data(as_text=True)
    assert "办公室退回修改意见" in page and "请写明修复的具体日期和巡查安排" in page

    # The responder edits and submits again; the office publishes the edited text.
    edited = "网友您好：解放路路灯已于11月30日修复，我局每周二夜间巡查一次。感谢您的反映。"
    assert post(responder, qid, "reply", body=edited, submit_review="提交审核").status_code == 303
    assert post(office, qid, "publish").status_code == 303
    detail = citizen.get(f"/questions/{number}")
    assert detail.status_code == 200 and "每周二夜间巡查一次" in detail.get_data(as_text=True)
    assert "已答复" in track(app.test_client(), number, code)
    assert actions(app, qid) == [
        "question.received", "question.routed", "reply.saved", "reply.submitted", "reply.returned",
        "reply.saved", "reply.submitted", "reply.published",
    ]


def test_responder_cannot_publish_in_one_step_and_keeps_what_was_typed(app, staff):
    number, _code, qid = asked_and_routed(app, staff)
    responder = signed_in(app, "responder")
    r = post(responder, qid, "reply", body=REPLY, publish="保存并发布")
    assert r.status_code == 403
    page = r.get_data(as_text=True)
    assert "须经办公室审核" in page and "解放路路灯已于今日修复" in page
    assert _status(app, qid) == "routed"
    assert app.test_client().get(f"/questions/{number}").status_code == 404


def test_the_offices_own_reply_publishes_directly(app, staff):
    number, code = ask_and_get_code(app.test_client())
    qid = question_id(app, number)
    office = signed_in(app, "office")
    assert post(office, qid, "reply", body=REPLY, publish="保存并发布").status_code == 303
    assert app.test_client().get(f"/questions/{number}").status_code == 200
    assert "reply.submitted" not in actions(app, qid)


def test_review_can_be_turned_off(make_app, staff):
    app = make_app(REPLY_REVIEW=False)
    number, _code, qid = asked_and_routed(app, staff)
    responder = signed_in(app, "responder")
    assert "保存并发布" in responder.get(f"/staff/questions/{qid}").get_data(as_text=True)
    assert post(responder, qid, "reply", body=REPLY, publish="保存并发布").status_code == 303
    assert app.test_client().get(f"/questions/{number}").status_code == 200


def test_the_about_page_says_replies_go_to_the_office_first(client):
    page = client.get("/pages/about").get_data(as_text=True)
    assert "提交县人民政府办公室审核" in page and "答复审核中" in page and "追问一次" in page
