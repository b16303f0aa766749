"""Co-departments (协办): the question is in their queue, they add an opinion the lead department sees, and they
cannot answer for the lead department."""

from __future__ import annotations

from handling_helpers import REPLY, actions, asked_and_routed, post, signed_in, track

OPINION = "我局核实：解放路中段属学校周边路段，建议路灯修复时同步增设学校区域警示标志。"


def test_co_department_sees_the_question_and_gives_an_opinion_the_lead_sees(app, staff):
    number, code, qid = asked_and_routed(app, staff, co=[staff.schools])
    helper = signed_in(app, "responder2")  # 教育: the co-department
    lead = signed_in(app, "responder")  # 交通: the lead department

    queue = helper.get("/staff/").get_data(as_text=True)
    assert f"/staff/questions/{qid}" in queue and "协办" in queue
    page = helper.get(f"/staff/questions/{qid}").get_data(as_text=True)
    assert "协办意见" in page and 'id="reply-h"' not in page  # an opinion form, no reply editor

    empty = post(helper, qid, "opinion", body="")
    assert empty.status_code == 400 and "请填写协办意见" in empty.get_data(as_text=True)
    assert post(helper, qid, "opinion", body=OPINION).status_code == 303

    lead_page = lead.get(f"/staff/questions/{qid}").get_data(as_text=True)
    assert OPINION in lead_page and "测试县教育局" in lead_page
    assert "协办意见" in lead.get("/staff/").get_data(as_text=True)  # the lead is told
    assert OPINION not in track(app.test_client(), number, code)  # never public
    assert "question.opinion" in actions(app, qid)

    # The co-department cannot answer, tell the citizen, or ask for time in the lead's name.
    assert post(helper, qid, "reply", body=REPLY, submit_review="提交审核").status_code == 403
    assert post(helper, qid, "interim", body="协办部门不能发布阶段性答复内容").status_code == 403
    assert post(helper, qid, "extension", days="2", reason="协办部门不能申请延期").status_code == 403
    # And the lead department has no opinion form of its own: it answers.
    assert post(lead, qid, "opinion", body=OPINION).status_code == 403


def test_a_department_not_asked_to_help_sees_nothing(app, staff):
    _number, _code, qid = asked_and_routed(app, staff)  # no co-departments
    other = signed_in(app, "responder2")
    assert f"/staff/questions/{qid}" not in other.get("/staff/").get_data(as_text=True)
    assert other.get(f"/staff/questions/{qid}").status_code == 403
