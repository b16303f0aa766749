"""One conference system: a 新闻发布会预告 on an incident is a conference of the press room, and back."""

from __future__ import annotations

from datetime import timedelta

import icalendar
from bs4 import BeautifulSoup
from bulletin_helpers import local, open_incident, post_update, spokesperson
from conftest import csrf_token
from sqlalchemy import select
from test_ics import announce, conference_ids

from portal.extensions import db
from portal.models import Update
from portal.timeutil import utcnow


def ics_events(app) -> dict[str, icalendar.Event]:
    body = app.test_client().get("/press/conferences.ics").data
    return {str(e["SUMMARY"]): e for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}


def change(client, conference_id: int, **fields):
    data = {"title": "抢险救灾新闻发布会", "starts_at": local(utcnow() + timedelta(days=2)), "duration_minutes": "60",
            "place": "县政府 1 号会议室", "spokesperson": "", "livestream_url": "", "incident_slug": "water",
            "release_slug": "", "description": "", **fields}
    data["csrf_token"] = csrf_token(client, f"/staff/press/conferences/{conference_id}")
    return client.post(f"/staff/press/conferences/{conference_id}", data=data)


def test_a_press_notice_on_an_incident_is_on_the_calendar_and_in_the_ics(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client, title="城区停水", slug="water")
    post_update(app, client, incident.id, "将召开新闻发布会，通报抢修进展。", kind="press", title="抢险救灾新闻发布会",
                press_at=local(utcnow() + timedelta(hours=3)), press_place="县政府新闻发布厅",
                livestream_url="https://live.example.cn/yunxi")
    page = BeautifulSoup(app.test_client().get("/press/conferences").data, "html.parser")
    article = page.select_one("article.conference")
    assert "抢险救灾新闻发布会" in article.get_text() and "县政府新闻发布厅" in article.get_text()
    assert article.select_one('a[href="/incidents/water"]') is not None
    event = ics_events(app)["抢险救灾新闻发布会"]
    assert str(event["LOCATION"]) == "县政府新闻发布厅" and str(event["STATUS"]) == "CONFIRMED"
    timeline = BeautifulSoup(app.test_client().get("/incidents/water").data, "html.parser")
    notice = timeline.select_one("article.press")
    assert notice.select_one('a[href^="/press/conferences#conference-"]') is not None


def test_a_change_and_a_cancellation_in_the_press_room_show_on_the_timeline(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client, title="城区停水", slug="water")
    post_update(app, client, incident.id, "将召开新闻发布会。", kind="press", title="抢险救灾新闻发布会",
                press_at=local(utcnow() + timedelta(hours=3)), press_place="县政府新闻发布厅")
    conference_id = conference_ids(app)[0]
    assert change(client, conference_id, place="县应急管理局 2 楼会议室").status_code == 303
    timeline = app.test_client().get("/incidents/water").get_data(as_text=True)
    assert "县应急管理局 2 楼会议室" in timeline and "发布会安排已调整" in timeline
    assert "县应急管理局 2 楼会议室" in app.test_client().get("/incidents/water/feed.atom").get_data(as_text=True)
    token = csrf_token(client, "/staff/press/conferences")
    assert client.post(f"/staff/press/conferences/{conference_id}/cancel", data={"csrf_token": token}).status_code == 303
    article = BeautifulSoup(app.test_client().get("/incidents/water").data, "html.parser").select_one("article.press")
    assert "发布会已取消" in article.get_text()
    assert str(ics_events(app)["抢险救灾新闻发布会"]["STATUS"]) == "CANCELLED"


def test_a_conference_announced_in_the_press_room_for_an_incident_is_on_its_timeline(app, staff):
    client = spokesperson(app)
    open_incident(app, client, title="城区停水", slug="water")
    announce(app, client, title="供水抢修新闻发布会", incident_slug="water", place="县政务中心 3 楼新闻发布厅")
    timeline = BeautifulSoup(app.test_client().get("/incidents/water").data, "html.parser")
    notice = timeline.select_one("article.press")
    assert notice is not None and "供水抢修新闻发布会" in notice.get_text()
    assert "县政务中心 3 楼新闻发布厅" in notice.get_text() and "新闻发布会预告" in notice.get_text()
    with app.app_context():
        assert [u.conference_id for u in db.session.scalars(select(Update))] == conference_ids(app)


def test_a_scheduled_notice_reaches_the_calendar_only_when_published_and_never_when_cancelled(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client, title="城区停水", slug="water")
    post_update(app, client, incident.id, "将召开新闻发布会。", kind="press", title="定时预告的发布会",
                press_at=local(utcnow() + timedelta(days=1)), press_place="县政府新闻发布厅", when="later",
                publish_at=local(utcnow() + timedelta(hours=2)))
    assert "定时预告的发布会" not in app.test_client().get("/press/conferences").get_data(as_text=True)
    assert "定时预告的发布会" not in ics_events(app)
    with app.app_context():
        update_id = db.session.scalar(select(Update.id))
    token = csrf_token(client, f"/staff/bulletins/{incident.id}")
    client.post(f"/staff/bulletins/updates/{update_id}/withdraw", data={"reason": "改期另行通知。", "csrf_token": token})
    with app.app_context():
        update = db.session.get(Update, update_id)
        update.publish_at -= timedelta(hours=3)
        update.withdrawn_at -= timedelta(hours=3)
        update.created_at -= timedelta(hours=3)
        db.session.commit()
    assert "定时预告的发布会" not in app.test_client().get("/press/conferences").get_data(as_text=True)
    assert "定时预告的发布会" not in ics_events(app)
