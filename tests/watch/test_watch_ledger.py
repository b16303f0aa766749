"""One ledger for both channels: board questions and watched items with channel and platform, filters, exports;
re-checking handled posts and answers against a local server (a deleted post is marked with the time)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from loop_helpers import make_item, make_source
from sqlalchemy import select
from watch_helpers import feed_server

from portal.extensions import db
from portal.models import AuditEntry, ScreenName, WatchAnswer, WatchItem
from portal.services.watch.recheck import recheck_due
from portal.services.watch.settings import WatchSettings


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_ledger_lists_both_channels_with_channel_and_platform(app, client, auth, staff):
    from conftest import ask_and_get_code

    number, _ = ask_and_get_code(app.test_client(), title="解放路路灯不亮了请修理")
    with app.app_context():
        weibo = make_source(db.session, "测试县发布微博评论", "微博", staff.roads)
        forum = make_source(db.session, "测试县论坛", "论坛", staff.schools)
        taken = make_item(db.session, weibo, "城南加油站排长队", datetime(2030, 1, 5, 2, tzinfo=UTC))
        taken.status = "assigned"
        matched_nothing = make_item(db.session, forum, "二手自行车转让", datetime(2030, 1, 5, 3, tzinfo=UTC))
        db.session.commit()
        assert matched_nothing.status == "pending"
    auth.login("office")
    page = client.get("/staff/ledger").get_data(as_text=True)
    assert "城南加油站排长队" in page and "测试县发布微博评论" in page and "解放路路灯不亮了请修理" in page
    assert "二手自行车转让" not in page  # not taken up, matched by no plan: not a ledger item
    rows = _csv(client.get("/staff/ledger.csv"))
    header = rows[0]
    by_title = {r[1]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert by_title["城南加油站排长队"]["渠道"] == "微博"
    assert by_title["城南加油站排长队"]["平台"] == "测试县发布微博评论"
    assert by_title["城南加油站排长队"]["状态"] == "已交办"
    assert by_title["解放路路灯不亮了请修理"]["渠道"] == "本站留言"
    assert [r[1] for r in _csv(client.get("/staff/ledger.csv?channel=微博"))[1:]] == ["城南加油站排长队"]
    assert [r[1] for r in _csv(client.get("/staff/ledger.csv?channel=本站留言"))[1:]] == ["解放路路灯不亮了请修理"]
    assert [r[1] for r in _csv(client.get("/staff/ledger.csv?platform=测试县发布微博评论"))[1:]] == ["城南加油站排长队"]
    bad = client.get("/staff/ledger?channel=抖音快手")
    assert bad.status_code == 400 and "没有这个渠道" in bad.get_data(as_text=True)


def test_recheck_marks_a_deleted_post_and_answer_with_the_time_found_gone(app, staff):
    with feed_server() as server:
        server.feed("/thread-1.html", "<html>还在</html>", content_type="text/html")
        server.feed("/reply-1.html", "<html>回应还在</html>", content_type="text/html")
        with app.app_context():
            forum = make_source(db.session, "测试县论坛", "论坛", staff.roads)
            alive = make_item(db.session, forum, "还在的帖子", datetime(2026, 11, 2, 1, tzinfo=UTC),
                              url=server.base + "/thread-1.html")
            gone = make_item(db.session, forum, "被删的帖子", datetime(2026, 11, 2, 1, tzinfo=UTC),
                             url=server.base + "/thread-2.html")
            for item in (alive, gone):
                item.status = "responded"
            name = ScreenName(platform="论坛", name="交通小蓝", registered_on=datetime(2026, 1, 1).date())
            db.session.add(name)
            db.session.flush()
            for path in ("/reply-1.html", "/reply-2.html"):
                db.session.add(WatchAnswer(item_id=alive.id, screen_name_id=name.id, url=server.base + path,
                                           answered_at=datetime(2026, 11, 2, 2, tzinfo=UTC), text="已回应"))
            db.session.commit()
            now = datetime(2026, 11, 3, 1, tzinfo=UTC)
            assert recheck_due(db.session, now, WatchSettings(timeout_seconds=5)) == 2
            assert db.session.get(WatchItem, gone.id).gone_at == now
            assert db.session.get(WatchItem, alive.id).gone_at is None
            assert db.session.get(WatchItem, alive.id).checked_at == now
            answers = {a.url.rsplit("/", 1)[1]: a for a in db.session.scalars(select(WatchAnswer))}
            assert answers["reply-2.html"].gone_at == now and answers["reply-1.html"].gone_at is None
            notes = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "watch.gone")))
            assert len(notes) == 2
            # Checked a moment ago: the next round leaves them alone (no request made).
            before = server.count("/thread-1.html", "requests")
            assert recheck_due(db.session, now, WatchSettings(timeout_seconds=5)) == 0
            assert server.count("/thread-1.html", "requests") == before
