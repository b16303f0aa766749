"""Incident bulletins through the console and the public pages: publish, schedule, correct, withdraw, pin, link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from bulletin_helpers import latest_update, local, open_incident, post_update, spokesperson
from conftest import AuthActions, ask_and_get_code, csrf_token
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEntry, Incident, Question, Update
from portal.timeutil import utcnow

BODY = "截至11月25日8时，青石镇累计转移群众**1260人**，无人员伤亡。"


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_published_update_is_on_the_page_and_in_every_feed_on_the_next_request(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    public = app.test_client()
    # Prime every conditional cache first, as a poller would.
    urls = ["/feeds/bulletins.rss", "/feeds/bulletins.atom", f"/incidents/{incident.slug}/feed.rss",
            f"/incidents/{incident.slug}/feed.atom"]
    etags = {u: public.get(u).headers["ETag"] for u in urls}
    post_update(app, client, incident.id, BODY)
    page = public.get(f"/incidents/{incident.slug}")
    assert page.status_code == 200 and "1260人" in page.get_data(as_text=True)
    for url in urls:
        response = public.get(url, headers={"If-None-Match": etags[url]})
        assert response.status_code == 200, url
        assert "1260人" in response.get_data(as_text=True), url


def test_timeline_newest_first_with_anchors_and_beijing_times(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    for n in range(1, 4):
        post_update(app, client, incident.id, f"第{n}次通报内容。", title=f"通报{n}")
    doc = soup(app.test_client().get(f"/incidents/{incident.slug}"))
    titles = [h.get_text(strip=True) for h in doc.select(".update-title")]
    assert titles == ["通报3", "通报2", "通报1"]
    for article in doc.select("article.update"):
        assert re.fullmatch(r"update-\d+", article["id"])
        stamp = article.select_one("time")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", stamp["datetime"])


def test_incident_list_shows_active_first(app, staff):
    client = spokesperson(app)
    first = open_incident(app, client, title="旧事件已结束", slug="old-one")
    status_token = csrf_token(client, f"/staff/bulletins/{first.id}")
    client.post(f"/staff/bulletins/{first.id}/status", data={"status": "closed", "next_update_due_at": "",
                                                              "csrf_token": status_token})
    open_incident(app, client, title="新事件进行中", slug="new-one")
    text = app.test_client().get("/incidents").get_data(as_text=True)
    assert text.index("新事件进行中") < text.index("旧事件已结束")


def test_scheduled_update_appears_only_when_due(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    post_update(app, client, incident.id, "定时发布的通报内容。", when="later",
                publish_at=local(utcnow() + timedelta(minutes=30)))
    public = app.test_client()
    assert "定时发布的通报内容" not in public.get(f"/incidents/{incident.slug}").get_data(as_text=True)
    before = public.get("/feeds/bulletins.atom")
    assert "定时发布的通报内容" not in before.get_data(as_text=True)
    # Time passes: make it due by moving its time into the past.
    with app.app_context():
        update = db.session.scalar(select(Update))
        update.publish_at = update.updated_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    after = public.get("/feeds/bulletins.atom", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and "定时发布的通报内容" in after.get_data(as_text=True)
    assert "定时发布的通报内容" in public.get(f"/incidents/{incident.slug}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"body": ""}, "请填写通报内容"),
        ({"body": "   \n  "}, "请填写通报内容"),
        ({"when": "later", "publish_at": "2020-01-01 08:00"}, "定时发布时间已过"),
        ({"when": "later", "publish_at": "明天上午"}, "定时发布时间格式应为"),
        ({"when": "later", "publish_at": ""}, "请填写定时发布时间"),
        ({"kind": "press", "press_place": ""}, "请填写发布会时间"),
        ({"livestream_url": "javascript:alert(1)"}, "直播链接应为"),
        ({"questions": "99999999"}, "没有找到已公开的留言"),
    ],
    ids=["empty", "blank", "past", "bad-time", "no-time", "press-no-time", "js-stream", "unknown-question"],
)
def test_bad_update_is_refused_with_a_message_and_input_kept(app, staff, fields, message):
    client = spokesperson(app)
    incident = open_incident(app, client)
    response = post_update(app, client, incident.id, fields.pop("body", "保留的通报草稿"), expect=400, **fields)
    text = response.get_data(as_text=True)
    assert message in text
    with app.app_context():
        assert db.session.scalar(select(Update)) is None


def test_slug_collision_gets_a_new_slug_and_unknown_slug_is_404(app, staff):
    client = spokesperson(app)
    a = open_incident(app, client, slug="flood")
    b = open_incident(app, client, title="另一场洪水", slug="flood")
    assert a.slug == "flood" and b.slug == "flood-2"
    public = app.test_client()
    for url in ["/incidents/nope", "/incidents/%E4%B8%AD%E6%96%87", "/incidents/nope/feed.rss",
                "/incidents/nope/feed.atom", "/incidents/" + "a" * 300]:
        response = public.get(url)
        assert response.status_code == 404, url
        assert "页面不存在" in response.get_data(as_text=True) or url.endswith(("rss", "atom"))


def test_correction_is_a_new_edition_with_a_public_note(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    post_update(app, client, incident.id, "转移群众1260人。", title="第一次通报")
    update = latest_update(app)
    token = csrf_token(client, f"/staff/bulletins/updates/{update.id}/correct")
    response = client.post(f"/staff/bulletins/updates/{update.id}/correct", data={
        "title": "第一次通报", "body": "转移群众1620人。", "change_note": "转移人数应为1620人，原稿数字颠倒。",
        "submit": "发布更正", "csrf_token": token})
    assert response.status_code == 303
    page = app.test_client().get(f"/incidents/{incident.slug}").get_data(as_text=True)
    assert "1620人" in page and "转移人数应为1620人，原稿数字颠倒。" in page and "更正" in page
    with app.app_context():
        stored = db.session.get(Update, update.id)
        assert [e.body_md for e in stored.editions] == ["转移群众1260人。", "转移群众1620人。"]
        assert stored.updated_at > stored.publish_at
    # A correction without a note is refused.
    response = client.post(f"/staff/bulletins/updates/{update.id}/correct", data={
        "title": "", "body": "转移群众1621人。", "change_note": "", "submit": "发布更正", "csrf_token": token})
    assert response.status_code == 400 and "请填写更正说明" in response.get_data(as_text=True)


def test_withdrawal_leaves_a_visible_notice(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    post_update(app, client, incident.id, "误发的通报内容。")
    update = latest_update(app)
    token = csrf_token(client, f"/staff/bulletins/{incident.id}")
    response = client.post(f"/staff/bulletins/updates/{update.id}/withdraw",
                           data={"reason": "信息尚未核实，予以撤回。", "csrf_token": token})
    assert response.status_code == 303
    doc = soup(app.test_client().get(f"/incidents/{incident.slug}"))
    article = doc.select_one(f"#update-{update.id}")
    assert "误发的通报内容" in article.get_text() and "信息尚未核实，予以撤回。" in article.get_text()
    assert article.select_one(".struck") is not None
    assert "【已撤回】" in app.test_client().get("/feeds/bulletins.atom").get_data(as_text=True)


def test_every_action_is_audited(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    post_update(app, client, incident.id, "一条通报。")
    token = csrf_token(client, f"/staff/bulletins/{incident.id}")
    client.post(f"/staff/bulletins/{incident.id}/pin", data={"csrf_token": token})
    with app.app_context():
        actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"incident.created", "update.published", "incident.pinned"} <= actions


def test_pinned_incident_is_a_banner_on_every_public_page_without_cookies(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client, title="云溪县城区停水")
    token = csrf_token(client, f"/staff/bulletins/{incident.id}")
    assert client.post(f"/staff/bulletins/{incident.id}/pin", data={"csrf_token": token}).status_code == 303
    public = app.test_client()
    for url in ["/", "/questions", "/incidents", f"/incidents/{incident.slug}", "/pages/about", "/nope"]:
        response = public.get(url)
        banner = soup(response).select_one(".crisis-banner")
        assert banner is not None and "云溪县城区停水" in banner.get_text(), url
        assert "Set-Cookie" not in response.headers, url
    client.post(f"/staff/bulletins/{incident.id}/pin", data={"csrf_token": token})
    assert soup(public.get("/")).select_one(".crisis-banner") is None


def test_pages_have_feed_autodiscovery_and_nav_link(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    doc = soup(app.test_client().get(f"/incidents/{incident.slug}"))
    hrefs = {link["href"] for link in doc.select('head link[rel="alternate"]')}
    assert {"/feeds/bulletins.rss", "/feeds/bulletins.atom", f"/incidents/{incident.slug}/feed.rss",
            f"/incidents/{incident.slug}/feed.atom"} <= hrefs
    assert doc.select_one('nav a[href="/incidents"]').get_text() == "突发事件"


def test_update_linked_to_a_question_marks_it_answered(app, staff):
    number, _ = ask_and_get_code(app.test_client())
    with app.app_context():
        qid = db.session.scalar(select(Question.id).where(Question.number == number))
    office = app.test_client()
    AuthActions(office).login("office")
    token = csrf_token(office, f"/staff/questions/{qid}")
    office.post(f"/staff/questions/{qid}/reply", data={"body": "网友您好：详见通报，感谢关注。", "publish": "1",
                                                        "csrf_token": token})
    client = spokesperson(app)
    incident = open_incident(app, client)
    post_update(app, client, incident.id, "关于解放路路灯的情况说明。", questions=f"{number}")
    update = latest_update(app)
    question_page = app.test_client().get(f"/questions/{number}").get_data(as_text=True)
    assert "已由通报答复" in question_page and f"/incidents/{incident.slug}#update-{update.id}" in question_page
    incident_page = app.test_client().get(f"/incidents/{incident.slug}").get_data(as_text=True)
    assert f"/questions/{number}" in incident_page


def test_press_conference_notice(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    post_update(app, client, incident.id, "将召开新闻发布会，通报抢险救灾进展。", kind="press",
                press_at=local(utcnow() + timedelta(hours=3)), press_place="县政府新闻发布厅",
                livestream_url="https://live.example.cn/yunxi")
    doc = soup(app.test_client().get(f"/incidents/{incident.slug}"))
    article = doc.select_one("article.press")
    assert "县政府新闻发布厅" in article.get_text() and "新闻发布会预告" in article.get_text()
    assert article.select_one('a[href="https://live.example.cn/yunxi"]') is not None


def test_console_preview_does_not_publish(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    response = post_update(app, client, incident.id, "**预览**内容", expect=200, preview="预览", submit="")
    assert "<strong>预览</strong>" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Update)) is None


def test_other_roles_cannot_open_the_console(app, staff):
    for username in ("office", "responder"):
        client = app.test_client()
        AuthActions(client).login(username)
        assert client.get("/staff/bulletins").status_code == 403
    admin = spokesperson(app, "admin")
    assert admin.get("/staff/bulletins").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Incident)) is None
