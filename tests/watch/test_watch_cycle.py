"""The fetch cycle against a local server: stored once, clusters, conditional GET, 429, broken sources, alerts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from conftest import AuthActions
from sqlalchemy import func, select
from watch_helpers import feed_server, rss

from portal.extensions import db
from portal.models.watch import WatchAlertDelivery, WatchFetchLog, WatchItem, WatchSighting, WatchSource
from portal.services.watch import alerts
from portal.services.watch.settings import from_config

WATER = ("青石镇新街片区连续停水一周，到底有没有人管？",
         "从5月3号开始，青石镇新街、老粮站一带每天只有早上6点到8点有一点水，这两天干脆全天停了。"
         "打县自来水公司电话，说是管网改造，问什么时候恢复，回答就是等通知。镇上没有贴任何停水公告，也没有送水车。")
ROAD = ("县城东环路挖开大半年了还没修好", "东环路北段去年十月就围起来施工，到现在路面还是坑坑洼洼，晚上没有路灯，电动车摔了好几回。")
DOG = ("寻狗启事：城关镇走失一只黄色土狗", "昨天傍晚在城关镇菜市场附近走失，脖子上有红色项圈，好心人看到请联系。")
OFFICIAL = "https://weibo.example/6501728394/PnB2dZ6hH"


def forum_feed() -> str:
    return rss("云溪论坛", [
        {"title": WATER[0], "link": "http://bbs.example/thread-1-1-1.html", "description": WATER[1], "author": "网友A1"},
        {"title": ROAD[0], "link": "http://bbs.example/thread-2-1-1.html", "description": ROAD[1], "author": "网友B2"},
        {"title": DOG[0], "link": "http://bbs.example/thread-3-1-1.html?utm_source=rss", "description": DOG[1]},
    ], ttl=30)


def weibo_feed() -> str:
    return rss("微博关键词", [
        {"title": "网友C3: 【转发】" + WATER[1][:40], "link": "https://weibo.example/1/Pa1",
         "guid": "https://weibo.example/1/Pa1", "description": "#青石镇停水#" + WATER[1] + "@云溪发布 给个准信"},
        {"title": "云溪发布: 关于新街供水情况的说明", "link": OFFICIAL, "guid": OFFICIAL,
         "description": "目前已安排送水车每天早晚两次定点送水，管网改造预计本周完工。"},
    ])


def official_feed() -> str:  # the same status under the same GUID on a second source
    return rss("云溪发布", [{"title": "云溪发布: 关于新街供水情况的说明", "link": OFFICIAL, "guid": OFFICIAL,
                         "description": "目前已安排送水车每天早晚两次定点送水，管网改造预计本周完工。"}])


def opml(server) -> bytes:
    outlines = [
        ("云溪论坛 - 百姓呼声", "/forum.rss", "discuz", "本地"),
        ("微博关键词：云溪县", "/weibo.rss", "rsshub-weibo", "本地"),
        ("云溪发布的微博", "/official.rss", "rsshub-weibo", "本地"),
        ("内部交流版（需登录）", "/login.html", "discuz", "本地"),
        ("坏掉的桥接", "/status/500", "rsshub-weibo", "周边"),
        ("限流的站点", "/status/429", "django", "同行业"),
    ]
    body = "".join(
        f'<outline type="rss" text="{name}" title="{name}" xmlUrl="{server.base}{path}" htmlUrl="http://site.example/" '
        f'pw:platform="{gen}" pw:region="{region}"/>' for name, path, gen, region in outlines)
    return (f'<?xml version="1.0" encoding="UTF-8"?><opml version="2.0" xmlns:pw="https://example.org/portal-watch">'
            f"<head><title>t</title></head><body><outline text=\"本地\">{body}</outline></body></opml>").encode()


def serve_all(server) -> None:
    # A forum that says gb2312 and sends GBK (扌 and 堃 are outside GB2312).
    body = forum_feed().replace("utf-8", "gb2312", 1).replace("网友B2", "网友堃").encode("gbk")
    server.feed("/forum.rss", body, "application/xml")
    server.feed("/weibo.rss", weibo_feed())
    server.feed("/official.rss", official_feed())
    server.feed("/login.html", "<html><head><title>提示信息 - 云溪论坛</title></head><body>抱歉，您尚未登录</body></html>",
                "text/html; charset=utf-8")
    server.feed("/status/500", "oops", "text/plain", status=500)
    server.feed("/status/429", "slow down", "text/plain", status=429, Retry_After="120")


def setup_watch(app, runner, server, tmp_path, plans: list[dict]) -> None:
    serve_all(server)
    (tmp_path / "s.opml").write_bytes(opml(server))
    (tmp_path / "p.json").write_text(json.dumps(plans, ensure_ascii=False), encoding="utf-8")
    out = runner.invoke(args=["watch", "import-sources", str(tmp_path / "s.opml")])
    assert "新增 6 个" in out.output, out.output
    out = runner.invoke(args=["watch", "import-plans", str(tmp_path / "p.json")])
    assert "新增" in out.output, out.output


def test_cycle_stores_once_clusters_and_revalidates(app, runner, staff, tmp_path):
    with feed_server() as server:
        setup_watch(app, runner, server, tmp_path, [{"name": "东环路", "any": ["东环路"], "must": [], "exclude": [],
                                                     "severity": "一般"}])
        first = runner.invoke(args=["watch", "fetch", "--once"])
        assert first.exit_code == 0, first.output
        assert "新信息 5 条" in first.output, first.output
        assert "失败 3 个" in first.output
        with app.app_context():
            items = list(db.session.scalars(select(WatchItem)))
            assert len(items) == 5  # 3 forum + 2 weibo; the official status once, though two sources carry it
            official = db.session.scalar(select(WatchItem).where(WatchItem.url == OFFICIAL))
            assert {s.source.name for s in official.sightings} == {"微博关键词：云溪县", "云溪发布的微博"}
            water = db.session.scalar(select(WatchItem).where(WatchItem.title == WATER[0]))
            repost = db.session.scalar(select(WatchItem).where(WatchItem.url == "https://weibo.example/1/Pa1"))
            dog = db.session.scalar(select(WatchItem).where(WatchItem.title == DOG[0]))
            assert water.cluster_id == repost.cluster_id  # the repost joins the forum post's story
            assert dog.cluster_id != water.cluster_id
            assert dog.url_key == "http://bbs.example/thread-3-1-1.html"  # tracking parameter gone
            road = db.session.scalar(select(WatchItem).where(WatchItem.title == ROAD[0]))
            assert [m.plan.name for m in road.matches] == ["东环路"]

        second = runner.invoke(args=["watch", "fetch", "--all"])
        assert "新信息 0 条" in second.output, second.output
        assert "未变化 3 个" in second.output
        for path in ("/forum.rss", "/weibo.rss", "/official.rss"):
            assert server.count(path, "if_none_match") == 1
            assert server.count(path, "not_modified") == 1
        with app.app_context():
            assert db.session.scalar(select(func.count(WatchItem.id))) == 5
            assert db.session.scalar(select(func.count(WatchSighting.id))) == 6


def test_broken_sources_are_logged_backed_off_and_shown(app, runner, staff, tmp_path):
    with feed_server() as server:
        setup_watch(app, runner, server, tmp_path, [])
        runner.invoke(args=["watch", "fetch", "--once"])
        with app.app_context():
            by_name = {s.name: s for s in db.session.scalars(select(WatchSource))}
            limited = by_name["限流的站点"]
            assert limited.last_status == 429
            wait = limited.next_fetch_at - limited.last_attempt_at
            assert timedelta(seconds=119) <= wait <= timedelta(seconds=121)  # Retry-After: 120
            assert by_name["坏掉的桥接"].consecutive_failures == 1
            assert "不是订阅源" in by_name["内部交流版（需登录）"].last_error
            logs = db.session.scalars(select(WatchFetchLog).where(WatchFetchLog.outcome == "error")).all()
            assert len(logs) == 3
        # Not due again yet: the next --once cycle leaves the 429 source alone.
        runner.invoke(args=["watch", "fetch", "--once"])
        assert server.count("/status/429", "requests") == 1

        client = app.test_client()
        assert AuthActions(client).login("office").status_code == 303
        page = client.get("/staff/watch/sources")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "连续失败" in html and "HTTP 500" in html and "Retry-After 120" in html
        with app.app_context():
            broken = db.session.scalar(select(WatchSource).where(WatchSource.name == "坏掉的桥接"))
        detail = client.get(f"/staff/watch/sources/{broken.id}")
        assert detail.status_code == 200 and "HTTP 500" in detail.get_data(as_text=True)
        assert client.get("/staff/watch").status_code == 200


def test_major_plan_pushes_one_alert_then_digest_tells_the_rest(app, runner, staff, tmp_path):
    with feed_server() as server:
        hook = f"json://127.0.0.1:{server.base.rsplit(':', 1)[1]}/hook"
        setup_watch(app, runner, server, tmp_path, [
            {"name": "停水", "any": ["停水", "停水"], "must": [], "exclude": [], "severity": "重大", "alert": [hook]},
            {"name": "道路", "any": ["东环路", "路灯"], "must": [], "exclude": ["寻狗"], "severity": "一般",
             "alert": [hook]},
        ])
        out = runner.invoke(args=["watch", "fetch", "--once"])
        assert "发出预警 1 条" in out.output, out.output
        assert len(server.posts) == 1
        pushed = server.posts[0]["json"]
        assert "重大舆情" in pushed["title"] and "停水" in pushed["title"]

        runner.invoke(args=["watch", "fetch", "--all"])
        assert len(server.posts) == 1  # nothing new, nothing pushed again

        settings = from_config(app.config)
        with app.app_context():
            # The first patrol time at least the channel's minimum interval after the push, whatever the time of day
            # the test runs at (a patrol time too close to the push is rightly skipped).
            earliest = db.session.scalar(select(func.max(WatchItem.first_seen_at))) + timedelta(
                minutes=settings.digest_min_interval_minutes + 1)
            probe = earliest
            while (patrol := alerts.last_patrol(probe, settings)) < earliest:
                probe += timedelta(hours=1)
            now = datetime.fromisoformat(patrol.isoformat()) + timedelta(minutes=1)
            assert alerts.send_digests(db.session, now, settings) == 1
            assert alerts.send_due_alerts(db.session, now, settings) == 1
            digest = server.posts[1]["json"]
            assert ROAD[0] in digest["message"]  # the other match
            assert "扩散" in digest["message"] and "微博关键词" in digest["message"]  # where the story spread
            assert WATER[0] not in digest["message"]  # already pushed to this channel
            # Nothing new: no empty digest, and the same patrol time is not sent twice.
            later = now + timedelta(hours=2)
            assert alerts.send_digests(db.session, later, settings) == 0
            assert db.session.scalar(select(func.count(WatchAlertDelivery.id))) == 2
            assert {d.status for d in db.session.scalars(select(WatchAlertDelivery))} == {"sent"}


def test_the_background_worker_fetches_and_pushes_the_alert_with_no_command_run(app, runner, staff, tmp_path):
    """The worker schedules the watch's steps itself: one burst fetches the due sources and pushes the 重大 alert."""
    from conftest import work

    with feed_server() as server:
        hook = f"json://127.0.0.1:{server.base.rsplit(':', 1)[1]}/hook"
        setup_watch(app, runner, server, tmp_path, [
            {"name": "停水", "any": ["停水"], "must": [], "exclude": [], "severity": "重大", "alert": [hook]},
        ])
        counts = work(app)
        assert counts.get("watch_fetch_new_items") == 5, counts
        assert len(server.posts) == 1 and "停水" in server.posts[0]["json"]["title"]
        work(app)
        assert len(server.posts) == 1  # never pushed twice
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(WatchItem)) == 5
