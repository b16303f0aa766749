"""Publishing a press release pings the WebSub hub for the release feeds and mails release subscribers.

A real local SMTP server (aiosmtpd) and a real HTTP hub stand in for the outside world, as in test_subscriptions.py
and test_feeds.py; mail and pings go out through the background worker (`work(app)` = `flask worker --burst`),
which also announces scheduled releases when they come due.
"""

from __future__ import annotations

import http.server
import re
import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from bulletin_helpers import local, open_incident, post_update, spokesperson
from conftest import CSRF_RE, csrf_token, work
from press_helpers import new_release, release_row
from sqlalchemy import select
from sqlalchemy import update as sa_update
from test_feeds import _Hub
from test_subscriptions import Inbox, _free_port

from portal.extensions import db
from portal.models import AuditEntry, Delivery, Release, Subscription
from portal.timeutil import utcnow

RELEASES = "@news"  # the subscription form's choice for press releases


@pytest.fixture
def inbox():
    box = Inbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port
    yield box
    controller.stop()


@pytest.fixture
def hub():
    _Hub.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hub", _Hub.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def press_app(make_app, inbox, hub, staff):
    hub_url, _received = hub
    return make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=inbox.port, SMTP_FROM="fabu@yunxi.example", WEBSUB_HUB=hub_url)


def release_feed_urls(kind: str) -> list[str]:
    return sorted(["http://localhost/news/feed.rss", "http://localhost/news/feed.atom",
                   f"http://localhost/news/{kind}/feed.rss", f"http://localhost/news/{kind}/feed.atom"])


def pinged(received) -> list[str]:
    assert all(r["hub.mode"] == ["publish"] for r in received)
    return sorted(r["hub.url"][0] for r in received)


def subscribe(client, address: str, scope: str = RELEASES):
    token = csrf_token(client, "/subscribe")
    return client.post("/subscribe", data={"email": address, "incident": scope, "csrf_token": token})


def confirm_url(inbox: Inbox) -> str:
    return re.search(r"http://localhost(/subscribe/confirm/\S+)", inbox.text()).group(1)


def press_confirm(reader, inbox: Inbox):
    """The confirmation page's 确认订阅 button (a POST; the GET only shows it)."""
    url = confirm_url(inbox)
    token = CSRF_RE.search(reader.get(url).get_data(as_text=True)).group(1)
    return reader.post(url, data={"csrf_token": token})


def subscribed_reader(app, inbox: Inbox, address: str = "desk@news.example", scope: str = RELEASES):
    reader = app.test_client()
    assert subscribe(reader, address, scope).status_code == 303
    work(app)
    page = press_confirm(reader, inbox)
    assert page.status_code == 200 and "订阅成功" in page.get_data(as_text=True)
    return reader


def test_publishing_a_release_pings_the_hub_for_the_release_feeds(press_app, hub):
    _hub_url, received = hub
    client = spokesperson(press_app)
    new_release(press_app, client, type="rumour", title="“自来水有毒”系谣言", rumour="网传自来水有毒。",
                body="经检测，水质全部合格。")
    assert received == []  # the request pings nothing itself: the worker does
    work(press_app)
    assert pinged(received) == release_feed_urls("rumour")
    # The feeds advertise the hub the pings went to.
    feed = press_app.test_client().get("/news/rumour/feed.atom")
    assert f'<{_hub_url}>; rel="hub"' in feed.headers["Link"]


def test_release_subscription_needs_double_opt_in_and_then_mails_each_release(press_app, inbox):
    client = spokesperson(press_app)
    reader = press_app.test_client()
    form = reader.get("/subscribe").get_data(as_text=True)
    assert f'value="{RELEASES}"' in form and "全部新闻发布稿件" in form
    assert subscribe(reader, "Reporter@News.Example").status_code == 303
    work(press_app)
    assert len(inbox.messages) == 1
    assert inbox.messages[0]["Subject"] == "请确认订阅：全部新闻发布稿件"
    # Not confirmed yet: a release sends nothing.
    new_release(press_app, client, title="尚未确认时发布的稿件")
    work(press_app)
    assert len(inbox.messages) == 1
    page = press_confirm(reader, inbox)
    assert "您已订阅全部新闻发布稿件" in page.get_data(as_text=True)
    _r, rid = new_release(press_app, client, type="rumour", title="“水库溃坝”系谣言", rumour="网传石门水库今晚溃坝。",
                          body="经水利局核查，大坝安全。")
    work(press_app)
    assert len(inbox.messages) == 2
    message = inbox.messages[-1]
    assert message["To"] == "Reporter@news.example"
    assert message["Subject"] == "【辟谣】“水库溃坝”系谣言"
    text = inbox.text()
    assert "网传石门水库今晚溃坝" in text and "大坝安全" in text
    assert f"http://localhost/news/{release_row(press_app, rid).slug}" in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.search(r"<http://localhost(/unsubscribe/[^>]+)>", message["List-Unsubscribe"]).group(1)
    assert "全部新闻发布稿件" in reader.get(unsubscribe).get_data(as_text=True)
    assert "已退订" in reader.post(unsubscribe).get_data(as_text=True)
    new_release(press_app, client, title="退订后的稿件")
    work(press_app)
    assert len(inbox.messages) == 2
    with press_app.app_context():
        kinds = db.session.scalars(select(Subscription.kind)).all()
        requested = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.subject_type == "subscription")).all()
    assert kinds == ["releases"]
    assert {"subscription.requested", "subscription.confirmed", "subscription.cancelled"} <= set(requested)


def test_bulletin_and_release_subscribers_each_get_only_their_own(press_app, inbox):
    client = spokesperson(press_app)
    incident = open_incident(press_app, client)
    subscribed_reader(press_app, inbox, "bulletins@example.cn", scope="")
    subscribed_reader(press_app, inbox, "releases@example.cn")
    confirmations = len(inbox.messages)
    post_update(press_app, client, incident.id, "第一次通报：转移群众1260人。", title="第一次通报")
    new_release(press_app, client, title="县城区冬季供暖今日启动")
    work(press_app)
    sent = {(m["To"], m["Subject"]) for m in inbox.messages[confirmations:]}
    assert sent == {("bulletins@example.cn", "第一次通报"), ("releases@example.cn", "【新闻稿】县城区冬季供暖今日启动")}


def test_same_address_may_hold_a_bulletin_and_a_release_subscription(press_app, inbox):
    reader = press_app.test_client()
    assert subscribe(reader, "desk@news.example", "").status_code == 303
    assert subscribe(reader, "desk@news.example", RELEASES).status_code == 303
    assert subscribe(reader, "desk@news.example", RELEASES).status_code == 303  # a repeat: same pending row
    with press_app.app_context():
        rows = db.session.execute(select(Subscription.kind, Subscription.token)).all()
    assert sorted(k for k, _t in rows) == ["bulletins", "releases"]
    assert len({t for _k, t in rows}) == 2


def test_correction_is_mailed_again_and_withdrawal_only_pings(press_app, inbox, hub):
    _hub_url, received = hub
    client = spokesperson(press_app)
    subscribed_reader(press_app, inbox)
    _r, rid = new_release(press_app, client, title="冬季取暖补贴", body="补贴标准为每户 300 元。")
    work(press_app)
    token = csrf_token(client, f"/staff/press/releases/{rid}")
    fixed = client.post(f"/staff/press/releases/{rid}/correct", data={
        "csrf_token": token, "title": "", "rumour": "", "body": "补贴标准为每户 320 元。", "change_note": "金额更正。"})
    assert fixed.status_code == 303
    work(press_app)
    assert inbox.messages[-1]["Subject"] == "【更正】【新闻稿】冬季取暖补贴"
    assert "320 元" in inbox.text() and "更正说明：金额更正。" in inbox.text()
    mails = len(inbox.messages)
    received.clear()
    withdrawn = client.post(f"/staff/press/releases/{rid}/withdraw", data={
        "csrf_token": token, "reason": "补贴政策尚未最终确定。", "confirm": "y"})
    assert withdrawn.status_code == 303
    work(press_app)
    assert len(inbox.messages) == mails  # no mail for a withdrawal
    assert pinged(received) == release_feed_urls("news")  # but feed readers learn of it through the hub


def test_scheduled_release_is_announced_when_it_comes_due(press_app, inbox, hub):
    _hub_url, received = hub
    client = spokesperson(press_app)
    subscribed_reader(press_app, inbox)
    mails = len(inbox.messages)
    _r, rid = new_release(press_app, client, type="notice", title="定时发布的停水通知", body="明日 9 时起停水。",
                          when="later", publish_at=local(utcnow() + timedelta(hours=2)))
    assert received == [] and len(inbox.messages) == mails
    runner = press_app.test_cli_runner()
    output = runner.invoke(args=["worker", "--burst"]).output
    assert "announced=0" in output and received == []
    with press_app.app_context():
        release = db.session.get(Release, rid)
        release.publish_at = release.updated_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    output = runner.invoke(args=["worker", "--burst"]).output
    assert "announced=1" in output and "mails_sent=1" in output and "pings_sent=4" in output, output
    assert inbox.messages[-1]["Subject"] == "【通知公告】定时发布的停水通知"
    assert pinged(received) == release_feed_urls("notice")
    # Announced once: the next run has nothing to do.
    output = runner.invoke(args=["worker", "--burst"]).output
    assert "announced=0" in output and "mails_sent=0" in output and "pings_sent=0" in output, output
    assert len(inbox.messages) == mails + 1


def test_mail_outage_keeps_the_release_pending_and_it_is_sent_later(press_app, inbox):
    client = spokesperson(press_app)
    subscribed_reader(press_app, inbox)
    mails = len(inbox.messages)
    press_app.config["SMTP_PORT"] = _free_port()  # the mail server goes away
    _r, rid = new_release(press_app, client, title="邮件服务器故障时发布的稿件")
    slug = release_row(press_app, rid).slug
    assert "邮件服务器故障时发布的稿件" in press_app.test_client().get(f"/news/{slug}").get_data(as_text=True)
    work(press_app)
    with press_app.app_context():
        kept = db.session.scalars(select(Delivery.state).where(Delivery.subject_type == "release",
                                                             Delivery.channel == "mail")).all()
        assert kept == ["queued"]  # kept for a retry
        db.session.execute(sa_update(Delivery).values(next_attempt_at=utcnow()))  # as if the backoff had passed
        db.session.commit()
    press_app.config["SMTP_PORT"] = inbox.port
    output = press_app.test_cli_runner().invoke(args=["worker", "--burst"]).output
    assert "mails_sent=1" in output, output
    assert len(inbox.messages) == mails + 1 and "邮件服务器故障时发布的稿件" in inbox.text()


def test_a_dead_hub_never_fails_a_release(make_app, staff):
    app = make_app(WEBSUB_HUB="http://127.0.0.1:9/hub")
    client = spokesperson(app)
    _r, rid = new_release(app, client, title="推送中心不可用时照常发布")
    assert app.test_client().get(f"/news/{release_row(app, rid).slug}").status_code == 200
