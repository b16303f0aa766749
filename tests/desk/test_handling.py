"""Handling in steps, through the console and /track: interim replies, extensions approved by the office,
不满意 -> send-back (重办) -> supplementary reply, the citizen's one follow-up, and the statistics."""

from __future__ import annotations

from datetime import timedelta

from conftest import csrf_token
from handling_helpers import (
    REPLY,
    actions,
    asked_and_routed,
    office_publishes_step,
    pending_step_id,
    post,
    published,
    signed_in,
    track,
)
from sqlalchemy import select

from portal.extensions import db
from portal.models import Question
from portal.services.clock import rule_from_config
from portal.services.desk.stats import month_key, month_stats
from portal.timeutil import to_beijing, utcnow

INTERIM = "您反映的路灯问题已转供电公司现场查看，预计三个工作日内修复。"
REASON = "需供电公司更换地下电缆，施工要办理占道手续"


def _question(app, qid: int) -> Question:
    with app.app_context():
        q = db.session.get(Question, qid)
        db.session.expunge(q)
        return q


def test_interim_reply_is_shown_on_track_and_then_on_the_question_page(app, staff):
    number, code, qid = asked_and_routed(app, staff)
    responder = signed_in(app, "responder")

    short = post(responder, qid, "interim", body="在办")
    assert short.status_code == 400
    assert "阶段性答复" in short.get_data(as_text=True) and "在办" in short.get_data(as_text=True)

    # Review is on: the interim reply waits for the office, which returns it once, then publishes it.
    first = "路灯问题正在处理。请耐心等待后续消息。"
    assert post(responder, qid, "interim", body=first).status_code == 303
    assert first not in track(app.test_client(), number, code)
    office = signed_in(app, "office")
    assert "阶段性答复，请审核" in office.get("/staff/").get_data(as_text=True)
    step = str(pending_step_id(app, qid))
    no_comment = post(office, qid, "steps/review", step=step, comment="", return_step="退回修改")
    assert no_comment.status_code == 400 and "请填写退回修改的意见" in no_comment.get_data(as_text=True)
    assert post(office, qid, "steps/review", step=step, comment="请写明预计修复时间",
                return_step="退回修改").status_code == 303
    assert "请写明预计修复时间" in responder.get(f"/staff/questions/{qid}").get_data(as_text=True)
    assert first not in track(app.test_client(), number, code)

    assert post(responder, qid, "interim", body=INTERIM).status_code == 303
    office_publishes_step(app, qid)
    page = track(app.test_client(), number, code)
    assert "办理进展" in page and "阶段性答复" in page and INTERIM in page and "测试县交通运输局" in page
    assert first not in page

    assert post(responder, qid, "reply", body=REPLY, submit_review="提交审核").status_code == 303
    assert post(signed_in(app, "office"), qid, "publish").status_code == 303
    detail = app.test_client().get(f"/questions/{number}").get_data(as_text=True)
    assert INTERIM in detail and detail.index(INTERIM) < detail.index("官方答复")
    assert [a for a in actions(app, qid) if a.startswith("question.step")] == [
        "question.step_submitted", "question.step_returned", "question.step_submitted", "question.step_published",
    ]


def test_extension_approved_by_the_office_moves_the_due_time_and_the_citizen_sees_it(app, staff):
    number, code, qid = asked_and_routed(app, staff)
    old_due = _question(app, qid).due_at
    responder = signed_in(app, "responder")
    office = signed_in(app, "office")

    bad = post(responder, qid, "extension", days="99", reason=REASON)
    assert bad.status_code == 400 and "1-15" in bad.get_data(as_text=True) and REASON in bad.get_data(as_text=True)
    assert post(responder, qid, "extension", days="x", reason=REASON).status_code == 400

    assert post(responder, qid, "extension", days="2", reason=REASON).status_code == 303
    assert _question(app, qid).due_at == old_due  # asked, not yet approved
    assert REASON not in track(app.test_client(), number, code)
    assert "延期" in office.get("/staff/").get_data(as_text=True)
    again = post(responder, qid, "extension", days="1", reason=REASON)
    assert again.status_code == 409 and "待审批" in again.get_data(as_text=True)
    assert post(responder, qid, "extension/decide", approve="批准延期").status_code == 403

    refused_without_reason = post(office, qid, "extension/decide", refuse="不批准", note="")
    assert refused_without_reason.status_code == 400 and "请填写理由" in refused_without_reason.get_data(as_text=True)
    assert post(office, qid, "extension/decide", approve="批准延期").status_code == 303

    with app.app_context():
        expected = rule_from_config(app.config).later_by_working_days(old_due, 2)
    q = _question(app, qid)
    assert q.due_at == expected and q.due_at > old_due and q.extension_count == 1
    page = track(app.test_client(), number, code)
    assert "延期办理" in page and REASON in page
    assert f"{to_beijing(expected):%Y-%m-%d %H:%M}" in page and f"{to_beijing(old_due):%Y-%m-%d %H:%M}" in page
    assert f"办公室批准留言 {number} 延期" in responder.get("/staff/notices").get_data(as_text=True)
    assert ["question.extension_requested", "question.extended"] == [
        a for a in actions(app, qid) if a.startswith("question.exten")
    ]


def test_on_time_counts_against_the_approved_due_time(app, staff):
    number, _code, qid = asked_and_routed(app, staff)
    late, _, late_id = asked_and_routed(app, staff, title="另一条路灯不亮的留言")
    with app.app_context():  # both were due an hour ago: answered now, they are late ...
        for question in db.session.scalars(select(Question).where(Question.id.in_([qid, late_id]))):
            question.due_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    responder, office = signed_in(app, "responder"), signed_in(app, "office")
    # ... unless the office approved an extension first.
    assert post(responder, qid, "extension", days="3", reason=REASON).status_code == 303
    assert post(office, qid, "extension/decide", approve="批准延期").status_code == 303
    for q in (qid, late_id):
        assert post(responder, q, "reply", body=REPLY, submit_review="提交审核").status_code == 303
        assert post(office, q, "publish").status_code == 303

    with app.app_context():
        roads = next(f for f in month_stats(db.session, month_key(utcnow())).departments if f.name == "测试县交通运输局")
    assert (roads.answered, roads.on_time, roads.extended) == (2, 1, 1)
    page = office.get("/staff/stats").get_data(as_text=True)
    assert "<th scope=\"col\">延期</th>" in page and "按延期后的应答复时间计" in page


def test_unsatisfied_rating_tells_the_office_which_sends_it_back_for_a_supplementary_reply(app, staff):
    number, code, qid = published(app, staff)
    citizen = app.test_client()
    track(citizen, number, code)
    office, responder = signed_in(app, "office"), signed_in(app, "responder")
    assert post(office, qid, "redo").status_code == 409  # not rated 不满意 (yet)

    token = csrf_token(citizen, "/track")
    r = citizen.post("/track/rate", data={"number": number, "rating": "unsatisfied", "comment": "路灯还是不亮",
                                          "csrf_token": token})
    assert r.status_code == 200
    home = office.get("/staff/").get_data(as_text=True)
    assert "网友不满意" in home and "路灯还是不亮" in home
    page = office.get(f"/staff/questions/{qid}").get_data(as_text=True)
    assert "要求重新办理" in page

    assert post(responder, qid, "redo").status_code == 403
    assert post(office, qid, "redo", note="请现场核实后答复").status_code == 303
    queue = responder.get("/staff/").get_data(as_text=True)
    assert "已答复，重新办理中" in queue and "路灯还是不亮" in queue
    assert "重新办理" in track(app.test_client(), number, code)
    assert post(office, qid, "redo").status_code == 409  # once

    supplement = "网友您好：经现场核实，路灯控制箱故障已于今晚更换，现已恢复照明。"
    assert post(responder, qid, "supplement", body=supplement).status_code == 303
    assert supplement not in track(app.test_client(), number, code)  # waits for review
    assert "已答复，重新办理中" in responder.get("/staff/").get_data(as_text=True)
    office_publishes_step(app, qid)
    page = track(app.test_client(), number, code)
    assert "补充答复" in page and supplement in page and "请现场核实后答复" not in page
    detail = app.test_client().get(f"/questions/{number}").get_data(as_text=True)
    assert supplement in detail and detail.index("官方答复") < detail.index(supplement)
    assert "已答复，重新办理中" not in responder.get("/staff/").get_data(as_text=True)
    assert ["question.rated", "question.redo", "question.supplement"] == [
        a for a in actions(app, qid) if a in ("question.rated", "question.redo", "question.supplement")
    ]


def test_one_follow_up_by_the_citizen_answered_in_the_same_thread(app, staff):
    number, code, qid = published(app, staff)
    stranger = app.test_client()
    token = csrf_token(stranger, "/track")
    refused = stranger.post("/track/followup", data={"number": number, "body": "请问什么时候彻底修好？", "csrf_token": token})
    assert refused.status_code == 403  # the tracking code was not checked in this browser

    citizen = app.test_client()
    assert "追问内容" in track(citizen, number, code)
    token = csrf_token(citizen, "/track")
    short = citizen.post("/track/followup", data={"number": number, "body": "何时", "csrf_token": token})
    assert short.status_code == 400 and "追问内容" in short.get_data(as_text=True)
    question = "路灯修好后又坏了两次，请问是否考虑整体更换线路？"
    r = citizen.post("/track/followup", data={"number": number, "body": question, "csrf_token": token})
    assert r.status_code == 200 and question in r.get_data(as_text=True) and "追问办理中" in r.get_data(as_text=True)
    again = citizen.post("/track/followup", data={"number": number, "body": question + "再问", "csrf_token": token})
    assert again.status_code == 409

    responder = signed_in(app, "responder")
    queue = responder.get("/staff/").get_data(as_text=True)
    assert "追问办理中" in queue and f"/staff/questions/{qid}" in queue
    other = signed_in(app, "responder2")
    token = csrf_token(other, "/staff/")
    assert other.post(f"/staff/questions/{qid}/supplement",
                      data={"csrf_token": token, "body": "与我局无关的补充答复内容，不应发布。"}).status_code == 403
    answer = "网友您好：我局已将解放路线路整体改造列入明年计划，届时将一并更换。"
    assert post(responder, qid, "supplement", body=answer).status_code == 303
    again = post(responder, qid, "supplement", body=answer + "又一条")
    assert again.status_code == 409 and "审核" in again.get_data(as_text=True)
    office_publishes_step(app, qid)
    page = track(app.test_client(), number, code)
    assert question in page and answer in page and page.index(question) < page.index(answer)
    assert "追问内容" not in page  # one follow-up only
    assert "question.followup" in actions(app, qid) and "question.supplement" in actions(app, qid)
