"""A citizen who left an e-mail address is told once when the answer is published (real SMTP: aiosmtpd), by the
background worker (`work(app)` = `flask worker --burst`)."""

from __future__ import annotations

import pytest
from conftest import AuthActions, ask_and_get_code, csrf_token, work
from sqlalchemy import select
from test_subscriptions import Inbox, _free_port, smtp  # noqa: F401  (the smtp fixture)

from portal.extensions import db
from portal.models import Question
from portal.services.board.citizen_mail import email_in

REPLY = "网友您好：经核实，解放路路灯已于今日修复，感谢您的反映。"


def answer(app, staff, contact: str, publish_separately: bool = False) -> tuple[str, str]:
    """Ask with `contact`, route to 交通, reply and publish through the console; returns (number, code)."""
    number, code = ask_and_get_code(app.test_client(), contact=contact)
    with app.app_context():
        qid = db.session.scalar(select(Question.id).where(Question.number == number))
    office = app.test_client()
    AuthActions(office).login("office")
    token = csrf_token(office, f"/staff/questions/{qid}")
    assert office.post(f"/staff/questions/{qid}/route",
                       data={"department": str(staff.roads), "note": "", "csrf_token": token}).status_code == 303
    responder = app.test_client()
    AuthActions(responder).login("responder")
    token = csrf_token(responder, f"/staff/questions/{qid}")
    if publish_separately:
        assert responder.post(f"/staff/questions/{qid}/reply",
                              data={"body": REPLY, "csrf_token": token}).status_code == 303
        assert responder.post(f"/staff/questions/{qid}/publish", data={"csrf_token": token}).status_code == 303
    else:
        assert responder.post(f"/staff/questions/{qid}/reply",
                              data={"body": REPLY, "publish": "保存并发布", "csrf_token": token}).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Question.status).where(Question.number == number)) == "published"
    return number, code


@pytest.mark.parametrize("separately", [False, True])
def test_citizen_with_an_email_is_told_once_with_the_link_and_never_the_code(make_app, smtp, staff,  # noqa: F811
                                                                             separately):
    inbox, port = smtp
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=port, REPLY_REVIEW=False)  # responders publish: mail is the subject
    number, code = answer(app, staff, "邮箱 citizen@mail.example", publish_separately=separately)
    assert inbox.messages == []  # the publishing request sends nothing itself
    work(app)
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "citizen@mail.example"
    assert number in message["Subject"]
    text = inbox.text()
    assert f"http://localhost/questions/{number}" in text and number in text
    assert code not in text and code.replace("-", "") not in text.replace("-", "")
    assert "查询码" in text  # it says why the code is not there
    work(app)
    assert len(inbox.messages) == 1  # told once


def test_no_mail_for_a_phone_number_or_no_contact(make_app, smtp, staff):  # noqa: F811
    inbox, port = smtp
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=port, REPLY_REVIEW=False)  # responders publish: mail is the subject
    answer(app, staff, "13800001111")
    answer(app, staff, "")
    work(app)
    assert inbox.messages == []


def test_a_mail_failure_never_undoes_the_publication(make_app, staff):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=_free_port(), REPLY_REVIEW=False)  # nothing listens there
    number, _code = answer(app, staff, "citizen@mail.example")
    work(app)
    page = app.test_client().get(f"/questions/{number}")
    assert page.status_code == 200 and "解放路路灯已于今日修复" in page.get_data(as_text=True)


def test_email_in_picks_exactly_one_address():
    assert email_in("citizen@mail.example") == "citizen@mail.example"
    assert email_in("电话 13800001111，邮箱：a.b+c@x-y.example.cn") == "a.b+c@x-y.example.cn"
    assert email_in("13800001111") is None
    assert email_in("a@x.example b@y.example") is None
    assert email_in(None) is None
