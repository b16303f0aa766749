"""The patrol: marking a source patrolled from the watch desk, fed sources covered by their fetches, hand-patrolled
ones needing a person each morning and afternoon; today's coverage per department and the week."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from conftest import csrf_token
from loop_helpers import make_source
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEntry, WatchFetchLog
from portal.models.watch_loop import WatchPatrol
from portal.services.watch.patrol import day_coverage, week_coverage

DAY = date(2026, 11, 2)  # Beijing; 09:00 = 01:00 UTC, 15:00 = 07:00 UTC


def _row_of(page: str, name: str) -> str:
    match = re.search(r"<tr id=\"source-\d+\">\s*<td>" + re.escape(name) + r"</td>.*?</tr>", page, re.S)
    assert match, f"{name} not on the page"
    return match.group(0)


def test_coverage_counts_fetches_for_fed_sources_and_people_for_hand_sources(app, staff):
    with app.app_context():
        fed = make_source(db.session, "交通论坛订阅", "论坛", staff.roads, feed_url="http://127.0.0.1:9/feed")
        hand = make_source(db.session, "民生板块", "新闻网站", staff.roads)
        school = make_source(db.session, "教育贴吧", "论坛", staff.schools)
        db.session.add_all([
            WatchFetchLog(source_id=fed.id, at=datetime(2026, 11, 2, 1, 0, tzinfo=UTC), outcome="ok"),
            WatchFetchLog(source_id=fed.id, at=datetime(2026, 11, 2, 7, 0, tzinfo=UTC), outcome="error"),
            WatchFetchLog(source_id=hand.id, at=datetime(2026, 11, 2, 1, 0, tzinfo=UTC), outcome="ok"),  # ignored
            WatchPatrol(source_id=hand.id, at=datetime(2026, 11, 2, 7, 30, tzinfo=UTC), found=0),
            WatchPatrol(source_id=school.id, at=datetime(2026, 11, 2, 1, 30, tzinfo=UTC), found=2),
            WatchPatrol(source_id=school.id, at=datetime(2026, 11, 1, 7, 30, tzinfo=UTC), found=0),  # yesterday
        ])
        db.session.commit()
        by_name = {d.name: d for d in day_coverage(db.session, DAY)}
        roads = by_name["测试县交通运输局"]
        assert [s.source.name for s in roads.missing(0)] == ["民生板块"]  # a fetch does not patrol a hand source
        assert [s.source.name for s in roads.missing(1)] == ["交通论坛订阅"]  # a failed fetch covers nothing
        schools = by_name["测试县教育局"]
        assert (len(schools.missing(0)), len(schools.missing(1))) == (0, 1)
        days, week = week_coverage(db.session, DAY)
        assert days[-1] == DAY and week["测试县交通运输局"][-1] == (2, 4) and week["测试县教育局"][-1] == (1, 2)
        assert week["测试县教育局"][-2] == (1, 2)


def test_a_commentator_marks_a_source_patrolled_and_the_page_shows_the_rest(app, client, auth, staff):
    with app.app_context():
        mine = make_source(db.session, "民生板块", "新闻网站", staff.roads).id
        other = make_source(db.session, "教育贴吧", "论坛", staff.schools).id
        db.session.commit()
    auth.login("responder")
    page = client.get("/staff/watch/patrol").get_data(as_text=True)
    assert _row_of(page, "民生板块").count("未巡查") == 2
    token = csrf_token(client, "/staff/watch/patrol")
    refused = client.post(f"/staff/watch/sources/{other}/patrol", data={"csrf_token": token, "found": "0"})
    assert refused.status_code == 403  # another department's source
    bad = client.post(f"/staff/watch/sources/{mine}/patrol", data={"csrf_token": token, "found": "几条",
                                                                    "note": "论坛首页正常"})
    assert bad.status_code == 400 and "整数" in bad.get_data(as_text=True)
    assert "论坛首页正常" in bad.get_data(as_text=True)
    done = client.post(f"/staff/watch/sources/{mine}/patrol", data={"csrf_token": token, "found": "0"})
    assert done.status_code == 303
    page = client.get("/staff/watch/patrol").get_data(as_text=True)
    row = _row_of(page, "民生板块")
    assert row.count("未巡查") == 1 and "✓ 巡查" in row
    assert _row_of(page, "教育贴吧").count("未巡查") == 2
    with app.app_context():
        patrol = db.session.scalar(select(WatchPatrol))
        assert (patrol.source_id, patrol.found) == (mine, 0)
        assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.subject_type == "watch_source")) \
            == "watch.patrolled"


def test_watch_list_filters_by_handling_state(app, client, auth, staff):
    from loop_helpers import make_item

    with app.app_context():
        forum = make_source(db.session, "测试县论坛", "论坛", staff.roads)
        make_item(db.session, forum, "等待研判的帖子", datetime(2026, 11, 2, 1, tzinfo=UTC))
        make_item(db.session, forum, "已经交办的帖子", datetime(2026, 11, 2, 2, tzinfo=UTC)).status = "assigned"
        db.session.commit()
    auth.login("office")
    page = client.get("/staff/watch?status=assigned").get_data(as_text=True)
    assert "已经交办的帖子" in page and "等待研判的帖子" not in page
    assert "<td>待研判</td>" in client.get("/staff/watch").get_data(as_text=True)
