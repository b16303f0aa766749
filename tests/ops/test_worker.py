"""The background worker itself: it refuses to run without a base URL, runs on a Redis queue, and its periodic
sweeps (overdue notices, export clean-up, contact purge) need no cron."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import ask_and_get_code, need_service, work
from sqlalchemy import select
from test_subscriptions import Inbox, _free_port

from portal import config as cfg
from portal import create_app, jobs
from portal.extensions import db
from portal.models import Delivery, Notification, Question, StaffUser
from portal.timeutil import utcnow


def test_a_server_refuses_to_start_without_a_base_url(monkeypatch, tmp_path):
    monkeypatch.delenv("PORTAL_BASE_URL", raising=False)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "k" * 32)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(cfg.ConfigError, match="PORTAL_BASE_URL is not set"):
        create_app()
    monkeypatch.setenv("PORTAL_BASE_URL", "javascript:alert(1)")
    with pytest.raises(cfg.ConfigError, match="http"):
        create_app()
    monkeypatch.setenv("PORTAL_BASE_URL", "https://www.yunxi.example/")
    assert create_app().config["BASE_URL"] == "https://www.yunxi.example"


def test_the_queue_can_live_in_redis(make_app, staff):
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        need_service("Redis is not running on 127.0.0.1:6379")
    app = make_app(WORKER_URL=url)
    try:
        assert type(jobs.huey.storage).__name__ == "RedisStorage"
        with app.app_context():
            q = Question(number="2026000001", title="标题五个字以上", body="内容" * 10, status="routed",
                         received_at=utcnow(), department_id=staff.roads, due_at=utcnow() - timedelta(hours=1))
            db.session.add(q)
            db.session.commit()
        jobs.notify_overdue()  # queued in Redis
        assert jobs.huey.pending_count() == 1
        assert work(app)["overdue_notices"] == 1
        assert jobs.huey.pending_count() == 0
    finally:
        jobs.huey.storage.flush_all()


@pytest.fixture
def relay():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    yield inbox
    controller.stop()


def test_overdue_notices_are_swept_and_mailed_by_the_worker_without_cron(make_app, relay, staff):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=relay.port)
    number, _ = ask_and_get_code(app.test_client())
    with app.app_context():
        db.session.query(StaffUser).filter_by(username="responder").update({"email": "jtj@example.org"})
        q = db.session.scalar(select(Question).where(Question.number == number))
        q.department_id, q.status, q.due_at = staff.roads, "routed", utcnow() - timedelta(minutes=5)
        db.session.commit()
    counts = work(app)
    assert counts["overdue_notices"] == 1 and counts["mails_sent"] == 1
    assert relay.messages[0]["To"] == "jtj@example.org" and number in relay.text()
    assert work(app)["overdue_notices"] == 0 and len(relay.messages) == 1  # once
    with app.app_context():
        notice = db.session.scalar(select(Notification))
        assert notice.mailed_at is not None and notice.mail_error is None


def test_a_purged_contact_cancels_an_unsent_answer_mail(make_app, relay, staff):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=_free_port(), CONTACT_RETENTION_DAYS=0)  # the relay is down
    number, _ = ask_and_get_code(app.test_client(), contact="citizen@mail.example")
    with app.app_context():
        q = db.session.scalar(select(Question).where(Question.number == number))
        from portal.services.board.citizen_mail import queue_answer_mail

        queue_answer_mail(db.session, q)
        q.closed_at = utcnow() - timedelta(days=1)
        db.session.commit()
        assert db.session.scalar(select(Delivery.recipient)) == ""  # no copy of the address kept
    counts = work(app)  # the relay is down; the daily purge sweep clears the contact meanwhile
    assert counts["contacts_purged"] == 1
    app.config["SMTP_PORT"] = relay.port
    with app.app_context():
        db.session.query(Delivery).update({"next_attempt_at": utcnow()})
        db.session.commit()
    work(app)
    assert relay.messages == []
    with app.app_context():
        assert db.session.scalar(select(Delivery.state)) == "failed"
