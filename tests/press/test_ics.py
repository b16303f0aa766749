"""The press-conference calendar: /press/conferences.ics read by `icalendar` and by vobject (an independent parser).

vobject is the parser of Radicale, the CalDAV server that Thunderbird, Evolution, DAVx5 and Apple Calendar sync
with; it shares no code with the `icalendar` package that writes the feed, so a quirk of one is caught by the other.
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import icalendar
import pytest
import vobject
from bulletin_helpers import local, open_incident, spokesperson
from conftest import csrf_token
from sqlalchemy import select

from portal.extensions import db
from portal.models import Conference
from portal.timeutil import utcnow


def announce(app, client, expect: int = 303, **fields):
    data = {"title": "冬季供暖保障新闻发布会", "starts_at": local(utcnow() + timedelta(days=1)), "duration_minutes": "90",
            "place": "县政务中心 3 楼新闻发布厅", "spokesperson": "县住建局局长 李明",
            "livestream_url": "https://live.yunxi.example/1", "incident_slug": "", "release_slug": "",
            "description": "通报供暖准备情况，回答记者提问。", **fields}
    data["csrf_token"] = csrf_token(client, "/staff/press/conferences")
    response = client.post("/staff/press/conferences", data=data)
    assert response.status_code == expect, response.get_data(as_text=True)[:3000]
    return response


def conference_ids(app) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Conference.id).order_by(Conference.id)))


@pytest.fixture
def calendar(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    announce(app, client, incident_slug=incident.slug)
    announce(app, client, title="往期：防汛工作发布会", starts_at=local(utcnow() - timedelta(days=3)))
    return client


def test_ics_parses_with_icalendar_and_vobject(app, calendar):
    response = app.test_client().get("/press/conferences.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "Set-Cookie" not in response.headers
    body = response.data
    assert body.startswith(b"BEGIN:VCALENDAR\r\n") and body.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in body.split(b"\r\n")), "lines must be folded at 75 octets"

    cal = icalendar.Calendar.from_ical(body)
    assert str(cal["VERSION"]) == "2.0" and str(cal["PRODID"])
    events = cal.walk("VEVENT")
    assert len(events) == 2
    by_title = {str(e["SUMMARY"]): e for e in events}
    upcoming = by_title["冬季供暖保障新闻发布会"]
    start, end = upcoming.decoded("DTSTART"), upcoming.decoded("DTEND")
    assert start.tzinfo is not None and start.utcoffset() == timedelta(0)
    assert end - start == timedelta(minutes=90)
    assert str(upcoming["LOCATION"]) == "县政务中心 3 楼新闻发布厅"
    assert str(upcoming["URL"]).startswith("http://localhost/press/conferences#conference-")
    assert "李明" in str(upcoming["DESCRIPTION"]) and "https://live.yunxi.example/1" in str(upcoming["DESCRIPTION"])
    assert re.fullmatch(r"press-conference-\d+@yunxi\.example", str(upcoming["UID"]))
    assert upcoming.decoded("DTSTAMP").tzinfo is not None

    parsed = vobject.readOne(body.decode("utf-8"))
    vevents = parsed.vevent_list
    assert len(vevents) == 2
    v = next(e for e in vevents if e.summary.value == "冬季供暖保障新闻发布会")
    assert v.dtstart.value.astimezone(UTC) == start.astimezone(UTC)
    assert v.dtend.value.astimezone(UTC) == end.astimezone(UTC)
    assert v.location.value == "县政务中心 3 楼新闻发布厅"
    assert v.uid.value == str(upcoming["UID"])
    assert "李明" in v.description.value


def test_change_and_cancellation_keep_the_uid_and_raise_the_sequence(app, calendar):
    client = calendar
    first = app.test_client().get("/press/conferences.ics")
    uid_before = {str(e["UID"]) for e in icalendar.Calendar.from_ical(first.data).walk("VEVENT")}
    conference_id = conference_ids(app)[0]
    token = csrf_token(client, f"/staff/press/conferences/{conference_id}")
    response = client.post(f"/staff/press/conferences/{conference_id}", data={
        "csrf_token": token, "title": "冬季供暖保障新闻发布会", "starts_at": local(utcnow() + timedelta(days=2)),
        "duration_minutes": "60", "place": "县政府 1 号会议室", "spokesperson": "", "livestream_url": "",
        "incident_slug": "", "release_slug": "", "description": ""})
    assert response.status_code == 303
    token = csrf_token(client, "/staff/press/conferences")
    assert client.post(f"/staff/press/conferences/{conference_id}/cancel",
                       data={"csrf_token": token}).status_code == 303
    # A calendar that polled before sees a new version (ETag changed).
    again = app.test_client().get("/press/conferences.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    events = icalendar.Calendar.from_ical(again.data).walk("VEVENT")
    assert {str(e["UID"]) for e in events} == uid_before
    changed = next(e for e in events if str(e["SUMMARY"]) == "冬季供暖保障新闻发布会")
    assert int(changed["SEQUENCE"]) == 2 and str(changed["STATUS"]) == "CANCELLED"
    assert str(changed["LOCATION"]) == "县政府 1 号会议室"
    v = next(e for e in vobject.readOne(again.data.decode()).vevent_list if e.summary.value.startswith("冬季"))
    assert v.status.value == "CANCELLED" and v.sequence.value == "2"
    page = app.test_client().get("/press/conferences").get_data(as_text=True)
    assert "已取消" in page


def test_ics_answers_conditional_requests(app, calendar):
    first = app.test_client().get("/press/conferences.ics")
    assert first.headers["ETag"] and "public" in first.headers["Cache-Control"]
    second = app.test_client().get("/press/conferences.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 304 and second.data == b""


def test_conference_page_lists_upcoming_and_past(app, calendar):
    page = app.test_client().get("/press/conferences")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Set-Cookie" not in page.headers
    upcoming, past = html.split('id="past-h"')
    assert "冬季供暖保障新闻发布会" in upcoming and "往期：防汛工作发布会" in past
    assert "青石镇山洪灾害" in upcoming  # the related incident is linked
    assert 'type="text/calendar"' in html


def test_bad_conference_input_is_refused_with_messages(app, staff):
    client = spokesperson(app)
    response = announce(app, client, expect=400, starts_at="明天上午", place="", livestream_url="javascript:alert(1)")
    html = response.get_data(as_text=True)
    assert "年-月-日 时:分" in html and "请填写发布会地点" in html
    assert conference_ids(app) == []
    response = announce(app, client, expect=400, livestream_url="javascript:alert(1)")
    assert "直播链接应为" in response.get_data(as_text=True)
