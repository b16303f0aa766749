"""The desk: routing with co-departments and notices (mailed through a real local SMTP server), overdue
notices once, bulk routing, send back, duplicate merge shown to the citizen, internal notes never public."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from conftest import ask_and_get_code, csrf_token, work
from sqlalchemy import select

from portal.extensions import db
from portal.models import Notification, Question, StaffUser
from portal.services.ops.mailer import MailError, send_mail
from portal.timeutil import utcnow


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's handler name)
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


def _qid(app, number: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Question.id).where(Question.number == number))


def _set_email(app, username: str, email: str) -> None:
    with app.app_context():
        db.session.query(StaffUser).filter_by(username=username).update({"email": email})
        db.session.commit()


def test_send_mail_through_a_real_smtp_server(smtp):
    port, inbox = smtp
    send_mail({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_FROM": "desk@example.org"},
              ["a@example.org"], "测试主题", "正文内容")
    assert inbox.messages and inbox.messages[0][0] == ["a@example.org"]
    with pytest.raises(MailError):
        send_mail({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": _free_port()}, ["a@example.org"], "x", "y")
    with pytest.raises(MailError):
        send_mail({"SMTP_HOST": ""}, ["a@example.org"], "x", "y")


def test_routing_notifies_lead_and_co_departments_on_screen_and_by_mail(make_app, smtp):
    port, inbox = smtp
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    from conftest import AuthActions

    client = app.test_client()
    _seed(app)
    _set_email(app, "responder", "jtj@example.org")
    _set_email(app, "responder2", "jyj@example.org")
    number, _ = ask_and_get_code(client)
    qid = _qid(app, number)
    AuthActions(client).login("office")
    token = csrf_token(client, f"/staff/questions/{qid}")
    ids = _dept_ids(app)
    r = client.post(f"/staff/questions/{qid}/route", data={"csrf_token": token, "department": str(ids["jtj"]),
                                                          "co_departments": [str(ids["jyj"])], "note": ""})
    assert r.status_code == 303
    assert inbox.messages == []  # routing never waits on the relay: the worker mails
    work(app)
    recipients = sorted(m[0][0] for m in inbox.messages)
    assert recipients == ["jtj@example.org", "jyj@example.org"]
    assert any(number in m[1] or "=?utf-8?" in m[1] for m in inbox.messages)

    lead, co = app.test_client(), app.test_client()
    AuthActions(lead).login("responder")
    AuthActions(co).login("responder2")
    assert "新转交" in lead.get("/staff/").get_data(as_text=True)
    page = co.get(f"/staff/questions/{qid}")  # a co-department reads it and adds its note, but does not reply
    assert page.status_code == 200 and "reply-h" not in page.get_data(as_text=True)
    token = csrf_token(co, f"/staff/questions/{qid}")
    assert co.post(f"/staff/questions/{qid}/note", data={"csrf_token": token, "body": "教育局意见：同意"}).status_code == 303
    assert co.post(f"/staff/questions/{qid}/reply", data={"csrf_token": token, "body": "网友您好：收到，谢谢。"}
                   ).status_code == 403
    assert "教育局意见：同意" in lead.get(f"/staff/questions/{qid}").get_data(as_text=True)


def test_a_mail_failure_never_undoes_the_routing(make_app):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=_free_port())  # nothing listens there
    from conftest import AuthActions

    _seed(app)
    _set_email(app, "responder", "jtj@example.org")
    client = app.test_client()
    number, _ = ask_and_get_code(client)
    qid = _qid(app, number)
    AuthActions(client).login("office")
    token = csrf_token(client, f"/staff/questions/{qid}")
    r = client.post(f"/staff/questions/{qid}/route", data={"csrf_token": token, "department": str(_dept_ids(app)["jtj"])})
    assert r.status_code == 303
    work(app)
    with app.app_context():
        assert db.session.get(Question, qid).status == "routed"
        notice = db.session.scalar(select(Notification).where(Notification.question_id == qid))
        assert notice.mailed_at is None and notice.mail_error


def test_overdue_notices_are_sent_once(app, runner, client, auth, staff):
    number, _ = ask_and_get_code(client)
    qid = _qid(app, number)
    with app.app_context():
        q = db.session.get(Question, qid)
        q.department_id, q.status, q.due_at = staff.roads, "routed", utcnow() - timedelta(minutes=5)
        db.session.commit()
    assert "新发出 1 条" in runner.invoke(args=["notify-overdue"]).output
    assert "新发出 0 条" in runner.invoke(args=["notify-overdue"]).output
    auth.login("responder")
    assert "已超时" in client.get("/staff/").get_data(as_text=True)
    clock = client.get("/staff/clock").get_data(as_text=True)
    assert number in clock


def test_desk_filters_bulk_route_and_bad_filters(app, client, auth, staff):
    numbers = [ask_and_get_code(app.test_client(), title=f"第{i}条关于道路的留言")[0] for i in range(3)]
    auth.login("office")
    page = client.get("/staff/desk?q=道路").get_data(as_text=True)
    assert all(n in page for n in numbers)
    token = csrf_token(client, "/staff/desk")
    ids = [str(_qid(app, n)) for n in numbers[:2]]
    r = client.post("/staff/desk/bulk", data={"csrf_token": token, "ids": ids, "department": str(staff.roads),
                                              "action": "route"})
    assert r.status_code == 303
    with app.app_context():
        states = [db.session.get(Question, int(i)).status for i in ids]
    assert states == ["routed", "routed"]
    assert numbers[2] in client.get("/staff/desk?status=received").get_data(as_text=True)
    for query in ["since=2026-02-31", "department=x", "due=later", "status=nope", "category=闲聊"]:
        bad = client.get(f"/staff/desk?{query}")
        assert bad.status_code == 400 and "error-summary" in bad.get_data(as_text=True), query


def test_send_back_to_the_office_with_a_reason(app, client, auth, staff):
    number, _ = ask_and_get_code(client)
    qid = _qid(app, number)
    auth.login("office")
    token = csrf_token(client, f"/staff/questions/{qid}")
    client.post(f"/staff/questions/{qid}/route", data={"csrf_token": token, "department": str(staff.roads)})
    auth.logout()
    auth.login("responder")
    token = csrf_token(client, f"/staff/questions/{qid}")
    r = client.post(f"/staff/questions/{qid}/return", data={"csrf_token": token, "reason": "属于教育局职责"})
    assert r.status_code == 303
    auth.logout()
    auth.login("office")
    assert "属于教育局职责" in client.get("/staff/").get_data(as_text=True)
    with app.app_context():
        q = db.session.get(Question, qid)
        assert (q.status, q.department_id) == ("received", None)


def test_duplicate_merge_is_shown_to_the_citizen_and_on_the_public_page(app, client, auth, staff):
    first, _ = ask_and_get_code(client, title="东门路口红绿灯时间太短")
    second, code = ask_and_get_code(client, title="东门路口绿灯太短了")
    q1, q2 = _qid(app, first), _qid(app, second)
    auth.login("office")
    token = csrf_token(client, f"/staff/questions/{q1}")
    client.post(f"/staff/questions/{q1}/reply", data={"csrf_token": token, "body": "网友您好：已延长绿灯时间。",
                                                     "publish": "1"})
    client.post(f"/staff/questions/{q2}/note", data={"csrf_token": token, "body": "内部：与上一条相同"})
    r = client.post(f"/staff/questions/{q2}/merge", data={"csrf_token": token, "original": first})
    assert r.status_code == 303
    auth.logout()
    token = csrf_token(client, "/track")
    page = client.post("/track", data={"number": second, "code": code, "csrf_token": token}).get_data(as_text=True)
    assert f"/questions/{first}" in page and "已合并办理" in page
    public = app.test_client().get(f"/questions/{first}").get_data(as_text=True)
    assert "1 条内容相同的留言已合并至本条" in public
    assert "内部：与上一条相同" not in public and "内部：与上一条相同" not in page


def test_reply_templates_per_department(app, client, auth, staff):
    auth.login("responder")
    token = csrf_token(client, "/staff/templates")
    r = client.post("/staff/templates", data={"csrf_token": token, "title": "路灯维修",
                                              "department": str(staff.schools),
                                              "body": "网友您好：路灯已安排维修，感谢您的反映。"})
    assert r.status_code == 303
    page = client.get("/staff/templates").get_data(as_text=True)
    assert "路灯维修" in page and "测试县交通运输局" in page  # forced to the responder's own department
    auth.logout()
    auth.login("responder2")
    assert "路灯维修" not in client.get("/staff/templates").get_data(as_text=True)


def _seed(app):
    from portal.models import Department
    from portal.services.accounts import signin

    with app.app_context():
        for name, slug in [("测试县人民政府办公室", "office"), ("测试县交通运输局", "jtj"), ("测试县教育局", "jyj")]:
            db.session.add(Department(name=name, slug=slug))
        db.session.commit()
        for username, role, dept in [("office", "office", "office"), ("responder", "responder", "jtj"),
                                     ("responder2", "responder", "jyj")]:
            signin.create_user(db.session, username, "correct-horse-battery", role, dept)


def _dept_ids(app) -> dict[str, int]:
    from portal.models import Department

    with app.app_context():
        return {d.slug: d.id for d in db.session.scalars(select(Department))}
