"""Delivery per recipient through the background worker, against a real SMTP server (aiosmtpd) and a real hub.

What a subscriber or the spokesperson would notice: a refused address never blocks or duplicates the others, a
relay outage delays mail but loses and duplicates nothing, a publishing request never talks to the relay itself,
links never follow a forged Host header, and opening a confirmation link confirms nothing until its button is
pressed.
"""

from __future__ import annotations

import email
import email.policy
import re
import secrets
import time
from collections import Counter
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from bulletin_helpers import open_incident, post_update, spokesperson
from conftest import CSRF_RE, AuthActions, csrf_token, work
from flask.testing import FlaskClient
from sqlalchemy import func, select
from test_feeds import hub  # noqa: F401  (the hub fixture)
from test_subscriptions import _free_port

from portal.extensions import db
from portal.models import AuditEntry, Delivery, Subscription
from portal.timeutil import utcnow

EVIL = "yunxi-gov.evil.example"


class ForgedHostClient(FlaskClient):
    """A browser (or a script) that sends a forged Host header with every request."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", f"http://{EVIL}")
        return super().open(*args, **kwargs)


class Relay:
    """An aiosmtpd handler: keeps messages per recipient, refuses some addresses (550) or defers them (451)."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse: set[str] = set()
        self.defer_once: set[str] = set()
        self.connections = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        if address in self.defer_once:
            self.defer_once.discard(address)
            return "451 4.2.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"

    def copies(self) -> Counter:
        return Counter(to for tos, _m in self.messages for to in tos)

    def texts(self) -> list[str]:
        return [m.get_body(("plain",)).get_content() for _t, m in self.messages]


@pytest.fixture
def relay():
    handler = Relay()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


def add_subscribers(app, addresses: list[str]) -> None:
    """Confirmed subscriptions to every bulletin (as if each had pressed 确认订阅)."""
    now = utcnow()
    with app.app_context():
        db.session.add_all([Subscription(email=a, kind="bulletins", token=secrets.token_urlsafe(32), created_at=now,
                                         confirmed_at=now) for a in addresses])
        db.session.commit()


def states(app, subject_type: str = "update") -> Counter:
    with app.app_context():
        return Counter(db.session.scalars(select(Delivery.state).where(Delivery.subject_type == subject_type,
                                                                       Delivery.channel == "mail")))


def publish(app, body: str = "青石镇累计转移群众1260人。", **fields):
    client = spokesperson(app)
    incident = open_incident(app, client, slug=f"flood-{secrets.token_hex(3)}")
    post_update(app, client, incident.id, body, **fields)
    return client, incident


@pytest.mark.parametrize("count", [3, 1000])
def test_a_refused_address_is_marked_and_everyone_else_gets_exactly_one_copy(make_app, relay, staff, count):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=relay.port)
    addresses = [f"reader{n:04d}@news.example" for n in range(count)]
    refused = addresses[len(addresses) // 2]  # a mailbox deleted after confirming
    relay.refuse.add(refused)
    add_subscribers(app, addresses)
    client, incident = publish(app)
    assert relay.connections == 0 and relay.messages == []  # the publishing request never talked to the relay
    counts = work(app)
    assert counts["mails_sent"] == count - 1 and counts["mails_bounced"] == 1
    copies = relay.copies()
    assert refused not in copies
    assert copies == Counter({a: 1 for a in addresses if a != refused})  # every other one exactly once
    assert relay.connections == 1  # one SMTP connection for the whole mailing
    assert states(app) == Counter({"sent": count - 1, "bounced": 1})
    with app.app_context():
        sub = db.session.scalar(select(Subscription).where(Subscription.email == refused))
        assert sub.bounce_count == 1 and "550" in sub.last_bounce and sub.suspended_at is None
    # Another run sends nothing more.
    output = app.test_cli_runner().invoke(args=["worker", "--burst"]).output
    assert "mails_sent=0" in output and "mails_bounced=0" in output, output
    assert sum(relay.copies().values()) == count - 1
    # The console shows the delivery state of the update.
    page = client.get(f"/staff/bulletins/{incident.id}").get_data(as_text=True)
    assert f'已发送 <span class="d-sent">{count - 1}</span>' in page and '退信 <span class="d-bounced">1</span>' in page


def test_repeated_bounces_suspend_and_the_admin_lifts_the_suspension(make_app, relay, staff):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=relay.port, SUBSCRIPTION_MAX_BOUNCES=2)
    add_subscribers(app, ["ok@news.example", "gone@news.example"])
    relay.refuse.add("gone@news.example")
    client, incident = publish(app, "第一次通报。")
    work(app)
    post_update(app, client, incident.id, "第二次通报。")
    work(app)
    admin = app.test_client()
    AuthActions(admin).login("admin")
    page = admin.get("/staff/subscriptions/suspended").get_data(as_text=True)
    assert "gone@news.example" in page and "550" in page and "ok@news.example" not in page
    # Suspended: the next update is not even queued for it.
    post_update(app, client, incident.id, "第三次通报。")
    work(app)
    assert relay.copies() == Counter({"ok@news.example": 3})
    # The admin lifts it (a POST with the token; audited): the next update is mailed to it again.
    relay.refuse.clear()
    with app.app_context():
        sub_id = db.session.scalar(select(Subscription.id).where(Subscription.email == "gone@news.example"))
    assert admin.post(f"/staff/subscriptions/{sub_id}/reinstate").status_code == 400  # no CSRF token
    token = csrf_token(admin, "/staff/subscriptions/suspended")
    assert admin.post(f"/staff/subscriptions/{sub_id}/reinstate", data={"csrf_token": token}).status_code == 303
    assert "没有暂停的订阅" in admin.get("/staff/subscriptions/suspended").get_data(as_text=True)
    post_update(app, client, incident.id, "第四次通报。")
    work(app)
    assert relay.copies() == Counter({"ok@news.example": 4, "gone@news.example": 1})
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.subject_type == "subscription"))
        assert {"subscription.suspended", "subscription.reinstated"} <= set(actions)


def test_relay_down_during_publication_then_back_sends_exactly_one_copy_each(make_app, relay, staff):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=_free_port(), DELIVERY_RETRY_SECONDS=3)  # nothing listens
    addresses = [f"desk{n}@news.example" for n in range(5)]
    add_subscribers(app, addresses)
    publish(app, "中继故障时发布的通报。")
    counts = work(app)
    assert counts["mails_sent"] == 0 and counts["mails_retrying"] >= 5  # each run of the drain puts all 5 back
    assert states(app) == Counter({"queued": 5})
    with app.app_context():  # the relay's outage counts against no one
        assert set(db.session.scalars(select(Delivery.attempts))) == {0}
    app.config["SMTP_PORT"] = relay.port  # the relay is back
    time.sleep(3.2)  # the backoff (1.5-3 s for a first retry here) passes
    assert work(app)["mails_sent"] == 5
    time.sleep(3.2)
    assert work(app)["mails_sent"] == 0
    assert relay.copies() == Counter({a: 1 for a in addresses})
    assert all("中继故障时发布的通报" in text for text in relay.texts())


def test_a_temporary_refusal_retries_only_that_recipient(make_app, relay, staff):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=relay.port, DELIVERY_RETRY_SECONDS=3)
    add_subscribers(app, ["a@news.example", "busy@news.example", "c@news.example"])
    relay.defer_once.add("busy@news.example")
    publish(app)
    counts = work(app)
    assert counts["mails_sent"] == 2 and counts["mails_retrying"] == 1
    time.sleep(3.2)
    assert work(app)["mails_sent"] == 1
    assert relay.copies() == Counter({"a@news.example": 1, "busy@news.example": 1, "c@news.example": 1})
    with app.app_context():
        attempts = db.session.scalar(select(Delivery.attempts).where(Delivery.recipient == "busy@news.example"))
    assert attempts == 2


def test_a_forged_host_never_reaches_a_mail_or_a_ping(make_app, relay, staff, hub):  # noqa: F811
    hub_url, received = hub
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=relay.port, WEBSUB_HUB=hub_url, BASE_URL="https://www.yunxi.example")
    forged = f"http://{EVIL}"
    app.test_client_class = ForgedHostClient  # every browser in this test sends `Host: yunxi-gov.evil.example`
    reader = app.test_client()
    token = csrf_token(reader, "/subscribe")
    assert reader.post("/subscribe", data={"email": "desk@news.example", "incident": "", "csrf_token": token}
                       ).status_code == 303
    work(app)
    link = re.search(r"(\S+/subscribe/confirm/\S+)", relay.texts()[0]).group(1)
    assert link.startswith("https://www.yunxi.example/subscribe/confirm/")
    path = link.removeprefix("https://www.yunxi.example")
    token = CSRF_RE.search(reader.get(path).get_data(as_text=True)).group(1)
    assert reader.post(path, data={"csrf_token": token}).status_code == 200
    client = spokesperson(app)
    incident = open_incident(app, client)
    post_update(app, client, incident.id, "伪造 Host 时发布的通报。")
    work(app)
    assert len(relay.messages) == 2
    for _to, message in relay.messages:
        assert EVIL not in message.as_string()
    update_mail = relay.messages[-1][1]
    assert "https://www.yunxi.example/incidents/" in update_mail.get_body(("plain",)).get_content()
    assert update_mail["List-Unsubscribe"].startswith("<https://www.yunxi.example/unsubscribe/")
    topics = sorted(r["hub.url"][0] for r in received)
    assert len(topics) == 4 and all(t.startswith("https://www.yunxi.example/") for t in topics)
    # Feeds, their Link header and the API, asked for with the forged Host, name the configured site only.
    for url in ["/feeds/bulletins.atom", f"/incidents/{incident.slug}/feed.rss", "/api/v1/incidents",
                "/press/conferences.ics", "/media"]:
        response = app.test_client().get(url, base_url=forged)
        assert response.status_code == 200, url
        assert EVIL not in response.get_data(as_text=True) and EVIL not in str(response.headers), url
    assert "https://www.yunxi.example/feeds/bulletins.atom" in app.test_client().get(
        "/feeds/bulletins.atom", base_url=forged).get_data(as_text=True)


def test_get_and_head_of_a_confirmation_link_confirm_nothing(make_app, relay, staff):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=relay.port)
    reader = app.test_client()
    token = csrf_token(reader, "/subscribe")
    reader.post("/subscribe", data={"email": "desk@news.example", "incident": "", "csrf_token": token})
    work(app)
    path = re.search(r"http://localhost(/subscribe/confirm/\S+)", relay.texts()[0]).group(1)

    def confirmed() -> bool:
        with app.app_context():
            return db.session.scalar(select(Subscription.confirmed_at)) is not None

    scanner = app.test_client()  # what a mail link scanner sends
    assert scanner.head(path).status_code == 200 and not confirmed()
    page = scanner.get(path)
    assert page.status_code == 200 and "确认订阅" in page.get_data(as_text=True) and not confirmed()
    assert scanner.post(path).status_code == 400 and not confirmed()  # a POST without the page's token
    token = CSRF_RE.search(reader.get(path).get_data(as_text=True)).group(1)
    done = reader.post(path, data={"csrf_token": token})
    assert done.status_code == 200 and "订阅成功" in done.get_data(as_text=True) and confirmed()


def test_idn_domains_are_accepted_and_a_local_part_the_relay_cannot_take_is_refused(make_app, relay, staff):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=relay.port)
    reader = app.test_client()
    token = csrf_token(reader, "/subscribe")
    response = reader.post("/subscribe", data={"email": "张三@例子.中国", "incident": "", "csrf_token": token})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "中文等非英文字符" in page and 'value="张三@例子.中国"' in page
    response = reader.post("/subscribe", data={"email": "desk@例子.中国", "incident": "", "csrf_token": token})
    assert response.status_code == 303
    work(app)
    assert relay.copies() == Counter({"desk@xn--fsqu00a.xn--fiqs8s": 1})  # the domain in its ASCII form
    with app.app_context():
        assert db.session.scalar(select(Subscription.email)) == "desk@例子.中国"
        assert db.session.scalar(select(func.count(Delivery.id)).where(Delivery.state == "sent")) == 1


def test_withdrawn_before_sending_is_never_mailed(make_app, relay, staff):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=relay.port)
    add_subscribers(app, ["desk@news.example"])
    client, incident = publish(app, "将被撤回的通报。")
    from portal import jobs

    jobs.announce.call_local()  # fanned out, not sent yet
    with app.app_context():
        from portal.models import Update

        update_id = db.session.scalar(select(Update.id))
    token = csrf_token(client, f"/staff/bulletins/{incident.id}")
    assert client.post(f"/staff/bulletins/updates/{update_id}/withdraw",
                       data={"csrf_token": token, "reason": "数字有误"}).status_code == 303
    work(app)
    assert relay.messages == []
    assert states(app) == Counter({"failed": 1})


def test_a_scheduled_update_is_mailed_by_the_worker_without_cron(make_app, relay, staff, hub, tmp_path):  # noqa: F811
    """`flask worker` alone (no cron, no --burst): the update is mailed and pinged within a minute of its time."""
    import os
    import subprocess
    import sys

    from bulletin_helpers import local
    from server_helpers import ROOT

    hub_url, received = hub
    queue = f"sqlite:///{tmp_path / 'queue.db'}"
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=relay.port, WEBSUB_HUB=hub_url, WORKER_URL=queue)
    add_subscribers(app, ["desk@news.example"])
    client = spokesperson(app)
    incident = open_incident(app, client)
    due = (utcnow() + timedelta(minutes=1)).replace(second=0, microsecond=0)
    post_update(app, client, incident.id, "定时发布的通报。", when="later", publish_at=local(due))
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "PORTAL_SECRET_KEY": "k" * 32,
           "PORTAL_BASE_URL": "http://localhost", "PORTAL_WORKER_URL": queue, "PORTAL_SMTP_HOST": "127.0.0.1",
           "PORTAL_SMTP_PORT": str(relay.port), "PORTAL_WEBSUB_HUB": hub_url,
           "PORTAL_SEARCH_INDEX_DIR": str(tmp_path / "idx"), "PORTAL_EXPORT_DIR": str(tmp_path / "exports")}
    env.pop("PORTAL_TEST_DATABASE_URL", None)
    log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "portal", "worker"], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = due + timedelta(seconds=75)
        while utcnow() < deadline and not (relay.messages and len(received) == 4):
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.2)
        arrived = utcnow()
    finally:
        worker.terminate()
        worker.wait(20)
        log.close()
    assert relay.messages, "not mailed: " + (tmp_path / "worker.log").read_text()[-3000:]
    assert len(received) == 4
    assert relay.messages[0][1]["Subject"] and "定时发布的通报" in relay.texts()[0]
    assert arrived - due < timedelta(seconds=60), f"mailed {arrived - due} after its time"


def test_every_mail_has_clean_plain_text_and_a_sanitised_html_part(make_app, relay, staff):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=relay.port)
    add_subscribers(app, ["desk@news.example"])
    publish(app, "**青石镇**累计转移群众1260人。\n\n- 第一批：800人\n- 第二批：460人\n\n详见[安置点名单](https://www.yunxi.example/a)。"
                 "<script>alert(1)</script>")
    work(app)
    (_to, message), = relay.messages
    text = message.get_body(("plain",)).get_content()
    assert "青石镇累计转移群众1260人。" in text and "**" not in text and "<" not in text
    assert "第一批：800人" in text and "安置点名单（https://www.yunxi.example/a）" in text
    html = message.get_body(("html",)).get_content()
    assert "<strong>青石镇</strong>" in html and '<a href="https://www.yunxi.example/a"' in html
    assert "<script" not in html and "http://localhost/unsubscribe/" in html
    # A mail without Markdown (the answer mail, notices, the confirmation) gets an HTML part made from its text.
    reader = app.test_client()
    token = csrf_token(reader, "/subscribe")
    reader.post("/subscribe", data={"email": "new@news.example", "incident": "", "csrf_token": token})
    work(app)
    confirmation = relay.messages[-1][1]
    assert '<a href="http://localhost/subscribe/confirm/' in confirmation.get_body(("html",)).get_content()
