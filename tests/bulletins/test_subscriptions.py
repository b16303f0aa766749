"""E-mail subscriptions against a real local SMTP server (aiosmtpd): double opt-in, notifications, unsubscribe.

Mail goes out through the background worker: `work(app)` runs it as `flask worker --burst` does."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from bulletin_helpers import open_incident, post_update, spokesperson
from conftest import CSRF_RE, csrf_token, work
from sqlalchemy import select
from sqlalchemy import update as sa_update

from portal.extensions import db
from portal.models import AuditEntry, Delivery, Subscription, Update
from portal.timeutil import utcnow


class Inbox:
    """An aiosmtpd handler that keeps every message."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def text(self, i: int = -1) -> str:
        return self.messages[i].get_body(("plain",)).get_content()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def mail_app(make_app, smtp):
    inbox, port = smtp
    return make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_FROM="fabu@yunxi.example"), inbox


def subscribe(client, email_address: str, incident: str = "") -> None:
    token = csrf_token(client, "/subscribe")
    response = client.post("/subscribe", data={"email": email_address, "incident": incident, "csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]


def confirm_link(inbox: Inbox) -> str:
    return re.search(r"http://localhost(/subscribe/confirm/\S+)", inbox.text()).group(1)


def confirm(reader, inbox: Inbox):
    """Open the link in the confirmation mail (a page with a button), then press 确认订阅 (a POST)."""
    link = confirm_link(inbox)
    page = reader.get(link)
    assert page.status_code == 200 and "确认订阅" in page.get_data(as_text=True)
    token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
    return reader.post(link, data={"csrf_token": token})


def test_double_opt_in_then_updates_arrive_with_one_click_unsubscribe(mail_app, staff):
    app, inbox = mail_app
    client = spokesperson(app)
    incident = open_incident(app, client)
    subscribe(app.test_client(), "reporter@news.example")
    work(app)
    assert len(inbox.messages) == 1 and "请确认订阅" in inbox.messages[0]["Subject"]
    # Not confirmed yet: a publication sends nothing.
    post_update(app, client, incident.id, "第一次通报：尚未确认的订阅者收不到。")
    work(app)
    assert len(inbox.messages) == 1
    reader = app.test_client()
    page = confirm(reader, inbox)
    assert page.status_code == 200 and "订阅成功" in page.get_data(as_text=True)
    post_update(app, client, incident.id, "第二次通报：青石镇累计转移群众1260人。", title="第二次通报")
    work(app)
    assert len(inbox.messages) == 2
    message = inbox.messages[-1]
    assert message["Subject"] == "第二次通报" and "1260人" in inbox.text()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_url = re.search(r"<http://localhost(/unsubscribe/[^>]+)>", message["List-Unsubscribe"]).group(1)
    # GET shows a button and changes nothing (link scanners); POST (what mail clients send) unsubscribes.
    assert "确认退订" in reader.get(unsubscribe_url).get_data(as_text=True)
    response = reader.post(unsubscribe_url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "已退订" in response.get_data(as_text=True)
    post_update(app, client, incident.id, "第三次通报。")
    work(app)
    assert len(inbox.messages) == 2
    with app.app_context():
        actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"subscription.requested", "subscription.confirmed", "subscription.cancelled"} <= actions


def test_one_incident_subscription_gets_only_that_incident(mail_app, staff):
    app, inbox = mail_app
    client = spokesperson(app)
    flood = open_incident(app, client, title="青石镇山洪", slug="flood")
    outage = open_incident(app, client, title="城区停水", slug="water")
    reader = app.test_client()
    subscribe(reader, "citizen@example.cn", "water")
    work(app)
    confirm(reader, inbox)
    post_update(app, client, flood.id, "山洪通报。")
    post_update(app, client, outage.id, "停水通报：预计18时恢复供水。")
    work(app)
    assert len(inbox.messages) == 2 and "停水通报" in inbox.text()


def test_correction_is_mailed_again_marked_as_correction(mail_app, staff):
    app, inbox = mail_app
    client = spokesperson(app)
    incident = open_incident(app, client)
    reader = app.test_client()
    subscribe(reader, "desk@news.example")
    work(app)
    confirm(reader, inbox)
    post_update(app, client, incident.id, "转移群众1260人。", title="通报一")
    work(app)
    with app.app_context():
        update_id = db.session.scalar(select(Update.id))
    token = csrf_token(client, f"/staff/bulletins/updates/{update_id}/correct")
    client.post(f"/staff/bulletins/updates/{update_id}/correct", data={
        "title": "通报一", "body": "转移群众1620人。", "change_note": "人数更正。", "submit": "发布更正", "csrf_token": token})
    work(app)
    assert inbox.messages[-1]["Subject"] == "【更正】通报一" and "人数更正" in inbox.text()


@pytest.mark.parametrize("address", ["", "not-an-email", "a@b", "x@y.z<script>", "a" * 300 + "@example.com"])
def test_bad_address_is_refused_with_a_message(mail_app, staff, address):
    app, inbox = mail_app
    client = app.test_client()
    token = csrf_token(client, "/subscribe")
    response = client.post("/subscribe", data={"email": address, "incident": "", "csrf_token": token})
    assert response.status_code == 400 and "电子邮箱" in response.get_data(as_text=True)
    work(app)
    assert inbox.messages == []


def test_bad_tokens_are_404(app, staff):
    client = app.test_client()
    for url in ["/subscribe/confirm/short", "/subscribe/confirm/" + "x" * 40, "/unsubscribe/" + "y" * 40]:
        assert client.get(url).status_code == 404, url


def test_mail_outage_never_loses_a_bulletin_and_sends_later(make_app, smtp, staff):
    inbox, port = smtp
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    client = spokesperson(app)
    incident = open_incident(app, client)
    reader = app.test_client()
    subscribe(reader, "desk@news.example")
    work(app)
    confirm(reader, inbox)
    # The mail server goes away (a closed port); the bulletin is still published.
    app.config["SMTP_PORT"] = _free_port()
    post_update(app, client, incident.id, "邮件服务器故障时发布的通报。")
    assert "邮件服务器故障时发布的通报" in app.test_client().get(f"/incidents/{incident.slug}").get_data(as_text=True)
    work(app)
    with app.app_context():
        assert db.session.scalar(select(Delivery.state).where(Delivery.subject_type == "update")) == "queued"  # kept
        db.session.execute(sa_update(Delivery).values(next_attempt_at=utcnow()))  # as if the backoff had passed
        db.session.commit()
    app.config["SMTP_PORT"] = port
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert "mails_sent=1" in result.output, result.output
    assert "邮件服务器故障时发布的通报" in inbox.text()


def test_scheduled_update_is_mailed_by_the_worker(mail_app, staff):
    app, inbox = mail_app
    client = spokesperson(app)
    incident = open_incident(app, client)
    reader = app.test_client()
    subscribe(reader, "desk@news.example")
    work(app)
    confirm(reader, inbox)
    post_update(app, client, incident.id, "定时通报。", when="later",
                publish_at=f"{(utcnow() + timedelta(hours=9)):%Y-%m-%d %H:%M}")
    assert len(inbox.messages) == 1
    runner = app.test_cli_runner()
    assert "mails_sent=0" in runner.invoke(args=["worker", "--burst"]).output
    assert len(inbox.messages) == 1
    with app.app_context():
        update = db.session.scalar(select(Update))
        update.publish_at = update.updated_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert "mails_sent=1" in runner.invoke(args=["worker", "--burst"]).output
    assert "定时通报" in inbox.text()
    with app.app_context():
        assert db.session.scalar(select(Subscription.confirmed_at)) is not None
