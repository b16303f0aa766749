"""Bulletin numbers (（第N次通报）), scheduled items withdrawn before their time, and the next-update promise."""

from __future__ import annotations

from datetime import timedelta

from bs4 import BeautifulSoup
from bulletin_helpers import local, open_incident, post_update, spokesperson
from conftest import TOTP_SECRET, AuthActions, csrf_token, work
from press_helpers import new_release
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEntry, Delivery, Incident, Release, StaffUser, Update
from portal.models.delivery import SUBJECT_RELEASE, SUBJECT_UPDATE
from portal.services.accounts import signin, totp
from portal.services.bulletins import notifications
from portal.timeutil import utcnow

BULLETIN_FEEDS = ["/feeds/bulletins.rss", "/feeds/bulletins.atom"]
NEWS_FEEDS = ["/news/feed.rss", "/news/feed.atom", "/news/news/feed.rss", "/news/news/feed.atom"]


def titles(app, slug: str) -> list[str]:
    """The timeline's headings, oldest first."""
    doc = BeautifulSoup(app.test_client().get(f"/incidents/{slug}").data, "html.parser")
    return [h.get_text(strip=True) for h in doc.select(".update-title")][::-1]


def time_passes(app, minutes: int) -> None:
    """Move every bulletin and release time back, as if `minutes` had passed."""
    delta = timedelta(minutes=minutes)
    with app.app_context():
        for row in [*db.session.scalars(select(Update)), *db.session.scalars(select(Release))]:
            for name in ("publish_at", "updated_at", "created_at", "withdrawn_at", "notified_at"):
                if getattr(row, name) is not None:
                    setattr(row, name, getattr(row, name) - delta)
        db.session.commit()


def withdraw_update(client, incident_id: int, update_id: int, reason: str = "安排有变，取消发布。"):
    token = csrf_token(client, f"/staff/bulletins/{incident_id}")
    response = client.post(f"/staff/bulletins/updates/{update_id}/withdraw",
                           data={"reason": reason, "csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]


def newest_update_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Update.id).order_by(Update.id.desc()))


def test_numbers_count_only_published_not_withdrawn_bulletins(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client, title="城区停水")
    post_update(app, client, incident.id, "第一条情况通报。")
    post_update(app, client, incident.id, "将召开新闻发布会。", kind="press",
                press_at=local(utcnow() + timedelta(hours=3)), press_place="县政府新闻发布厅")
    post_update(app, client, incident.id, "定时通报，后来取消。", when="later",
                publish_at=local(utcnow() + timedelta(hours=2)))
    withdraw_update(client, incident.id, newest_update_id(app))
    post_update(app, client, incident.id, "误发后立即撤回的通报。")
    withdraw_update(client, incident.id, newest_update_id(app))
    post_update(app, client, incident.id, "第二条有效的情况通报。")
    headings = [t for t in titles(app, incident.slug) if "次通报" in t]
    # The press notice, the cancelled scheduled one and the withdrawn one take no number of their own.
    assert headings == ["城区停水（第1次通报）", "城区停水（第2次通报）", "城区停水（第2次通报）"]
    doc = BeautifulSoup(app.test_client().get(f"/incidents/{incident.slug}").data, "html.parser")
    newest = doc.select("article.update")[0]
    assert "第二条有效的情况通报" in newest.get_text() and "第2次通报" in newest.get_text()


def test_a_scheduled_bulletin_takes_its_number_when_it_is_published(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client, title="城区停水")
    post_update(app, client, incident.id, "第一条。")
    post_update(app, client, incident.id, "定时的一条。", when="later", publish_at=local(utcnow() + timedelta(minutes=30)))
    post_update(app, client, incident.id, "在定时通报之前发布的一条。")
    assert titles(app, incident.slug) == ["城区停水（第1次通报）", "城区停水（第2次通报）"]
    time_passes(app, 31)
    assert titles(app, incident.slug) == ["城区停水（第1次通报）", "城区停水（第2次通报）", "城区停水（第3次通报）"]
    feed = app.test_client().get(f"/incidents/{incident.slug}/feed.atom").get_data(as_text=True)
    assert "城区停水（第3次通报）" in feed and "城区停水（第4次通报）" not in feed


def test_a_number_once_published_never_changes_and_never_repeats(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client, title="城区停水")
    for n in range(3):
        post_update(app, client, incident.id, f"通报正文{n}。")
    with app.app_context():
        second = db.session.scalars(select(Update.id).order_by(Update.id)).all()[1]
    withdraw_update(client, incident.id, second, "数据有误。")
    post_update(app, client, incident.id, "第四条。")
    assert titles(app, incident.slug) == [
        "城区停水（第1次通报）", "城区停水（第2次通报）", "城区停水（第3次通报）", "城区停水（第4次通报）"]


def _deliveries(subject_type: str, subject_id: int) -> list[Delivery]:
    return list(db.session.scalars(select(Delivery).where(Delivery.subject_type == subject_type,
                                                          Delivery.subject_id == subject_id)))


def test_a_scheduled_update_withdrawn_before_its_time_is_cancelled_everywhere(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client, title="城区停水", slug="water")
    post_update(app, client, incident.id, "已发布的一条通报。")
    post_update(app, client, incident.id, "不应出现的定时通报正文。", when="later",
                publish_at=local(utcnow() + timedelta(minutes=30)))
    cancelled = newest_update_id(app)
    withdraw_update(client, incident.id, cancelled)
    token = csrf_token(client, f"/staff/bulletins/{incident.id}")
    client.post(f"/staff/bulletins/{incident.id}/pin", data={"csrf_token": token})
    admin = app.test_client()
    assert AuthActions(admin).login("admin").status_code == 303
    admin.post("/staff/crisis", data={"csrf_token": csrf_token(admin, "/staff/crisis"), "crisis_mode": "y",
                                      "reason": "汛情升级，首页以事件开头。"})
    time_passes(app, 31)
    work(app)  # the background worker announces what came due
    public = app.test_client()
    for url in ["/incidents/water", "/", "/incidents/water/feed.rss", "/incidents/water/feed.atom",
                *BULLETIN_FEEDS, "/api/v1/incidents/water"]:
        text = public.get(url).get_data(as_text=True)
        assert "已发布的一条通报" in text, url
        assert "不应出现的定时通报正文" not in text and "已撤回" not in text, url
    with app.app_context():
        assert [u.body_md for u in notifications.pending(db.session)] == []
        assert _deliveries(SUBJECT_UPDATE, cancelled) == []  # never mailed, never pinged
        assert db.session.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc()).where(
            AuditEntry.subject_type == "update", AuditEntry.subject_id == cancelled)) == "update.cancelled"
    console = client.get(f"/staff/bulletins/{incident.id}").get_data(as_text=True)
    assert "已取消" in console


def test_a_scheduled_release_withdrawn_before_its_time_is_cancelled_everywhere(app, staff):
    client = spokesperson(app)
    new_release(app, client, title="已发布的供暖通知", slug="heating")
    _r, rid = new_release(app, client, title="定时发布后取消的稿件", slug="cancelled-one", when="later",
                          publish_at=local(utcnow() + timedelta(minutes=30)))
    token = csrf_token(client, f"/staff/press/releases/{rid}")
    response = client.post(f"/staff/press/releases/{rid}/withdraw",
                           data={"csrf_token": token, "reason": "安排有变。", "confirm": "y", "submit": "撤回稿件"})
    assert response.status_code == 303
    time_passes(app, 31)
    work(app)  # the background worker announces what came due
    public = app.test_client()
    for url in ["/news", *NEWS_FEEDS, "/api/v1/releases"]:
        text = public.get(url).get_data(as_text=True)
        assert "已发布的供暖通知" in text, url
        assert "定时发布后取消的稿件" not in text, url
    assert public.get("/news/cancelled-one").status_code == 404
    with app.app_context():
        assert notifications.pending_releases(db.session) == []
        assert _deliveries(SUBJECT_RELEASE, rid) == []  # never mailed, never pinged
    assert "已取消" in client.get(f"/staff/press/releases/{rid}").get_data(as_text=True)
    assert "已取消" in client.get("/staff/press").get_data(as_text=True)


def test_a_next_update_time_in_the_past_is_refused(app, staff):
    client = spokesperson(app)
    past = local(utcnow() - timedelta(hours=1))
    token = csrf_token(client, "/staff/bulletins")
    response = client.post("/staff/bulletins", data={
        "title": "城区停水", "slug": "", "severity": "4", "status": "ongoing", "summary": "",
        "started_at": local(utcnow() - timedelta(hours=3)), "next_update_due_at": past, "csrf_token": token})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "下次通报时间已过" in text and "城区停水" in text
    incident = open_incident(app, client)
    token = csrf_token(client, f"/staff/bulletins/{incident.id}")
    response = client.post(f"/staff/bulletins/{incident.id}/status",
                           data={"status": "ongoing", "next_update_due_at": past, "csrf_token": token})
    assert response.status_code == 400 and "下次通报时间已过" in response.get_data(as_text=True)
    # Leaving it empty (no promise) is still fine.
    response = client.post(f"/staff/bulletins/{incident.id}/status",
                           data={"status": "contained", "next_update_due_at": "", "csrf_token": token})
    assert response.status_code == 303


def test_the_demo_incident_continues_with_the_next_number(app, runner):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == "spokesperson"))
        user.password_hash = signin.hash_password("demo-password-0123")
        user.totp_secret = totp.encrypt_secret(app.config["SECRET_KEY"], TOTP_SECRET)
        incident = db.session.scalar(select(Incident).where(Incident.slug == "qingshi-flood"))
        incident_id, slug, title = incident.id, incident.slug, incident.title
        db.session.commit()
    client = app.test_client()
    assert AuthActions(client).login("spokesperson", "demo-password-0123").status_code == 303
    post_update(app, client, incident_id, "截至目前，青石镇受灾群众已全部妥善安置。")
    assert titles(app, slug)[-1] == f"{title}（第6次通报）"
