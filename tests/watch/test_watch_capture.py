"""Pages found by hand: the form only records the URL; the fetch step extracts, snapshots, matches; errors shown."""

from __future__ import annotations

from conftest import AuthActions, csrf_token
from sqlalchemy import func, select
from watch_helpers import feed_server

from portal.extensions import db
from portal.models import AuditEntry
from portal.models.watch import WatchCapture, WatchItem, WatchSource
from portal.services.watch import plans
from portal.services.watch.periodic import PERIODIC
from portal.services.watch.settings import from_config
from portal.services.watch.sources import SourceFields, create_source
from portal.timeutil import utcnow

BODY = "网友反映：城关镇幸福路菜市场门口每天早上占道经营，早高峰堵车严重，学生上学很不安全，希望有关部门尽快处理。"
NAV = "".join(f"<td><a href='/c{i}.html'>栏目{i}</a></td>" for i in range(12))
LINKS = "".join(f"<tr><td><a href='/n{i}.html'>相关新闻标题第{i}条关于本县的工作动态</a></td><td>2025-05-0{i % 9 + 1}</td></tr>"
                for i in range(15))
FOOTER = "版权所有：云溪县人民政府办公室 地址：云溪县城关镇人民路1号 备案号：X ICP备12345678号"


def table_page(charset: str = "utf-8") -> str:
    """A Chinese government-site page laid out in nested tables: generic extractors take the whole page."""
    return (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">'
            "<title>关于幸福路菜市场占道经营的反映_百姓呼声_云溪论坛</title></head>"
            f"<body><table width=980><tr>{NAV}</tr></table><table width=980><tr><td width=700 valign=top>"
            "<table><tr><td class=bt>关于幸福路菜市场占道经营的反映</td></tr>"
            "<tr><td class=info>发布时间：2025-05-12 来源：网友 浏览：123</td></tr>"
            f"<tr><td class=nr id=zoom>{BODY}</td></tr></table></td>"
            f"<td width=280 valign=top><table>{LINKS}</table></td></tr></table>"
            f"<table><tr><td>{FOOTER}</td></tr></table></body></html>")


GBK_TITLE = "刘堃反映：青石镇新街片区连续停水一周"  # 堃 is outside GB2312: the page says gb2312 and sends GBK
GBK_BODY = "从5月3号开始，青石镇新街、老粮站一带每天只有早上6点到8点有一点水，这两天干脆全天停了，也没有送水车。" * 3


def gbk_page() -> bytes:
    article = "".join(f"<p>{GBK_BODY}</p>" for _ in range(3))
    return (f'<html><head><meta charset="gb2312"><title>{GBK_TITLE}_云溪论坛</title></head><body>'
            f"<div class=nav><a href='/'>首页</a></div><article><h1>{GBK_TITLE}</h1>{article}</article>"
            "<div class=footer>Powered by Discuz!</div></body></html>").encode("gbk")


def add_source(app, name: str, html_url: str, selector: str = "") -> int:
    with app.app_context():
        source = create_source(db.session, None, SourceFields(name=name, platform="论坛", html_url=html_url,
                                                              extract_selector=selector), from_config(app.config))
        return source.id


def paste(client, url: str, source_id: int | str = ""):
    token = csrf_token(client, "/staff/watch/captures")
    return client.post("/staff/watch/captures", data={"csrf_token": token, "url": url, "source_id": str(source_id)})


def office(app):
    client = app.test_client()
    assert AuthActions(client).login("office").status_code == 303
    return client


def test_pasted_gbk_page_becomes_a_matched_item_with_a_snapshot(app, runner, staff):
    with feed_server() as server:
        url = server.feed("/thread-9-1-1.html", gbk_page(), "text/html")
        add_source(app, "云溪论坛", server.base + "/forum.php")
        with app.app_context():
            plans.create_plan(db.session, None, plans.PlanFields(name="停水", any_words=["停水"], severity="较大"),
                              utcnow())
        client = office(app)
        response = paste(client, url)  # no source chosen: the only source on this host is taken
        assert response.status_code == 303
        assert server.count("/thread-9-1-1.html", "requests") == 0  # the request only recorded it
        listing = client.get("/staff/watch/captures").get_data(as_text=True)
        assert "等待抓取" in listing and "thread-9-1-1.html" in listing

        out = runner.invoke(args=["watch", "fetch", "--once"])
        assert "人工发现的网页：抓取 1 个（新信息 1 条）" in out.output, out.output
        assert server.count("/thread-9-1-1.html", "requests") == 1
        with app.app_context():
            item = db.session.scalar(select(WatchItem))
            capture = db.session.scalar(select(WatchCapture))
            assert item.by_hand and capture.item_id == item.id and capture.status == "done"
            assert capture.last_error == ""  # read by the charset its <meta> declares, not guessed
            assert GBK_TITLE in item.title  # decoded right: 堃 is not in GB2312
            assert GBK_BODY[:40] in item.text and "Powered by Discuz" not in item.text
            assert "Powered by Discuz" in item.snapshot  # the snapshot keeps the whole page as evidence
            assert item.first_seen_at == capture.created_at  # the clock starts when the commentator found it
            assert [m.plan.name for m in item.matches] == ["停水"] and item.severity == "较大"
            assert item.cluster_id is not None
            item_id = item.id
        page = client.get(f"/staff/watch/items/{item_id}").get_data(as_text=True)
        assert GBK_TITLE in page and "人工发现" in page and "网页快照" in page and "停水" in page
        listing = client.get("/staff/watch/captures").get_data(as_text=True)
        assert "已抓取" in listing and f"/staff/watch/items/{item_id}" in listing

        # Pasting the same page again links to the stored item: no second item.
        assert paste(client, url).status_code == 303
        runner.invoke(args=["watch", "fetch", "--once"])
        with app.app_context():
            assert db.session.scalar(select(func.count(WatchItem.id))) == 1
            assert {c.item_id for c in db.session.scalars(select(WatchCapture))} == {item_id}


def test_the_source_selector_picks_the_text_of_a_table_layout(app, runner, staff):
    with feed_server() as server:
        plain = server.feed("/a/content_1.html", table_page("gbk").encode("gbk"), "text/html; charset=gbk")
        chosen = server.feed("/b/content_1.html", table_page(), "text/html; charset=utf-8")
        generic = add_source(app, "县政府网站（未设选择器）", "http://gov-a.example/")
        with_selector = add_source(app, "县政府网站（正文 #zoom）", "http://gov-b.example/", "td#zoom")
        client = office(app)
        assert paste(client, plain, generic).status_code == 303
        assert paste(client, chosen, with_selector).status_code == 303
        runner.invoke(args=["watch", "fetch", "--once"])
        with app.app_context():
            by_source = {i.source_id: i for i in db.session.scalars(select(WatchItem))}
            # Without the selector the generic extractor takes the navigation, the side list and the footer too.
            assert BODY in by_source[generic].text and FOOTER in by_source[generic].text
            assert by_source[with_selector].text == BODY
            assert by_source[with_selector].title.startswith("关于幸福路菜市场占道经营的反映")
            assert FOOTER in by_source[with_selector].snapshot


def test_bad_input_is_a_400_with_what_was_typed(app, staff):
    client = office(app)
    response = paste(client, "ftp://bbs.example/thread-1.html")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "网址应以 http:// 或 https:// 开头" in html and 'value="ftp://bbs.example/thread-1.html"' in html
    response = paste(client, "http://unknown.example/thread-1.html")
    assert response.status_code == 400
    assert "请选择这条信息所在的信息源" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(WatchCapture.id))) == 0


def test_failed_fetches_show_their_error_and_can_be_retried(app, runner, staff):
    with feed_server() as server:
        source_id = add_source(app, "云溪论坛", server.base + "/")
        server.feed("/gone.html", "not here", "text/html", status=404)
        server.feed("/busy.html", "oops", "text/plain", status=500)
        server.feed("/file.pdf", b"%PDF-1.4", "application/pdf")
        client = office(app)
        for path in ("/gone.html", "/busy.html", "/file.pdf"):
            assert paste(client, server.base + path, source_id).status_code == 303
        out = runner.invoke(args=["watch", "fetch", "--once"])
        assert "稍后重试 1 个，失败 2 个" in out.output, out.output
        with app.app_context():
            by_url = {c.url.rsplit("/", 1)[1]: c for c in db.session.scalars(select(WatchCapture))}
            assert by_url["gone.html"].status == "failed" and by_url["busy.html"].status == "pending"
            assert by_url["busy.html"].attempts == 1 and by_url["busy.html"].next_attempt_at > utcnow()
            assert db.session.scalar(select(func.count(WatchItem.id))) == 0
            gone_id = by_url["gone.html"].id
            assert db.session.scalar(select(func.count(AuditEntry.id)).where(
                AuditEntry.action == "watch.capture.failed")) == 2
        listing = client.get("/staff/watch/captures").get_data(as_text=True)
        assert "HTTP 404：页面不存在或已删除" in listing and "不是网页（内容类型 application/pdf）" in listing
        assert "抓取失败" in listing and "HTTP 500" in listing

        server.feed("/gone.html", "<html><head><title>恢复了</title></head><body><p>帖子又能打开了。</p></body></html>",
                    "text/html; charset=utf-8")
        token = csrf_token(client, "/staff/watch/captures")
        assert client.post(f"/staff/watch/captures/{gone_id}/retry", data={"csrf_token": token}).status_code == 303
        runner.invoke(args=["watch", "fetch", "--once"])
        with app.app_context():
            assert db.session.get(WatchCapture, gone_id).status == "done"


def test_the_worker_finds_the_capture_step():
    assert "watch.captures" in {name for name, _fn, _every in PERIODIC}


def test_a_selector_that_is_no_css_is_refused(app, staff):
    client = office(app)
    token = csrf_token(client, "/staff/watch/sources")
    response = client.post("/staff/watch/sources", data={
        "csrf_token": token, "name": "县政府网站", "platform": "新闻网站", "region": "本地",
        "html_url": "http://gov.example/", "extract_selector": "td[[zoom"})
    assert response.status_code == 400
    assert "正文选择器不是有效的 CSS 选择器" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(WatchSource.id))) == 0
