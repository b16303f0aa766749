"""The press room through the browser's eyes: publishing, rebuttals, filters, corrections, contacts, the demo."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from bulletin_helpers import local, open_incident, spokesperson
from conftest import AuthActions, csrf_token
from press_helpers import attachments, new_release, release_row, stored_files
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEntry, Conference, DirectoryEntry, Release, ReleaseEdition
from portal.timeutil import utcnow


def test_publish_a_release_with_preview_and_read_it(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    response, _ = new_release(app, client, expect=200, submit="", preview="预览", body="**加粗**的正文")
    assert "<strong>加粗</strong>" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Release.id))) == 0
    _r, rid = new_release(app, client, department_id=str(staff.roads), incident_slug=incident.slug,
                          slug="heating-2026")
    release = release_row(app, rid)
    assert release.slug == "heating-2026" and release.topic_list == ["民生", "供暖"]
    page = app.test_client().get("/news/heating-2026")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Set-Cookie" not in page.headers
    assert "县城区冬季供暖今日启动" in html and "测试县交通运输局" in html and "青石镇山洪灾害" in html
    with app.app_context():
        assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.subject_type == "release")) == \
            "release.published"


def test_rumour_rebuttal_shows_the_rumour_and_the_facts(app, staff):
    client = spokesperson(app)
    response, _ = new_release(app, client, expect=400, type="rumour", title="“水库溃坝”系谣言", rumour="")
    assert "辟谣稿请写明网传说法" in response.get_data(as_text=True)
    assert "“水库溃坝”系谣言" in response.get_data(as_text=True)  # the form kept what was typed
    _r, rid = new_release(app, client, type="rumour", title="“水库溃坝”系谣言", rumour="网传石门水库今晚溃坝。",
                          body="经水利局核查，大坝安全，库水位低于汛限水位。")
    soup = BeautifulSoup(app.test_client().get(f"/news/{release_row(app, rid).slug}").data, "html.parser")
    rumour, facts = soup.select_one(".rebuttal .rumour"), soup.select_one(".rebuttal .facts-box")
    assert "网传石门水库今晚溃坝" in rumour.get_text() and "谣言" in rumour.h2.get_text()
    assert "大坝安全" in facts.get_text() and "真相" in facts.h2.get_text()
    assert soup.h1.get_text().startswith("【辟谣】")
    assert "转发请注明来源" in soup.select_one(".share-line").get_text()
    console = client.get(f"/staff/press/releases/{rid}").get_data(as_text=True)
    assert 'name="rumour"' in console and "网传石门水库今晚溃坝" in console


def test_filters_by_type_topic_and_month(app, staff):
    client = spokesperson(app)
    new_release(app, client, title="甲稿", topics="供暖")
    new_release(app, client, title="乙稿", type="notice", topics="停水")
    new_release(app, client, title="丙稿", type="rumour", rumour="谣言", topics="供暖,辟谣")
    public = app.test_client()

    def titles(query: str) -> set[str]:
        soup = BeautifulSoup(public.get(f"/news{query}").data, "html.parser")
        return {a.get_text() for a in soup.select(".release-list h2 a")}

    assert titles("") == {"甲稿", "乙稿", "丙稿"}
    assert titles("?type=notice") == {"乙稿"}
    assert titles("?topic=供暖") == {"甲稿", "丙稿"}
    assert titles("?topic=供") == set()  # a whole tag, not a substring
    month = f"{utcnow() + timedelta(hours=8):%Y-%m}"
    assert titles(f"?month={month}") == {"甲稿", "乙稿", "丙稿"}
    assert titles("?month=2001-01") == set()
    # Malformed filters are ignored, never an error.
    for query in ["?type=<script>", "?month=13-2026", "?page=abc", "?topic=%25", "?page=99999999"]:
        assert public.get(f"/news{query}").status_code == 200


def test_correction_is_a_public_edition(app, staff):
    client = spokesperson(app)
    _r, rid = new_release(app, client)
    token = csrf_token(client, f"/staff/press/releases/{rid}")
    same = client.post(f"/staff/press/releases/{rid}/correct", data={
        "csrf_token": token, "title": "", "body": "11月25日起，县城区集中供暖正式启动。", "change_note": "无"})
    assert same.status_code == 400 and "内容没有变化" in same.get_data(as_text=True)
    fixed = client.post(f"/staff/press/releases/{rid}/correct", data={
        "csrf_token": token, "title": "", "body": "11月26日起，县城区集中供暖正式启动。", "change_note": "日期更正为26日。"})
    assert fixed.status_code == 303
    html = app.test_client().get(f"/news/{release_row(app, rid).slug}").get_data(as_text=True)
    assert "11月26日起" in html and "日期更正为26日" in html and "已更正（第 2 版）" in html
    with app.app_context():
        bodies = db.session.scalars(select(ReleaseEdition.body_md).order_by(ReleaseEdition.number)).all()
        assert bodies[0].startswith("11月25日") and bodies[1].startswith("11月26日")


def test_scheduled_release_is_invisible_until_due_and_past_times_are_refused(app, staff):
    client = spokesperson(app)
    response, _ = new_release(app, client, expect=400, when="later", publish_at=local(utcnow() - timedelta(hours=1)))
    assert "定时发布时间已过" in response.get_data(as_text=True)
    _r, rid = new_release(app, client, when="later", publish_at=local(utcnow() + timedelta(hours=1)))
    slug = release_row(app, rid).slug
    assert app.test_client().get(f"/news/{slug}").status_code == 404
    assert "（定时）" in client.get("/staff/press").get_data(as_text=True)


def test_directory_is_kept_by_the_admin_and_shown_on_contacts(app, staff):
    spokes = spokesperson(app)
    assert spokes.get("/staff/press/directory").status_code == 403
    admin = app.test_client()
    AuthActions(admin).login("admin")
    token = csrf_token(admin, "/staff/press/directory")
    bad = admin.post("/staff/press/directory", data={"csrf_token": token, "department_id": str(staff.roads),
                                                     "name": "王芳", "role": "新闻发言人", "office_phone": "打电话"})
    assert bad.status_code == 400 and "请填写办公电话" in bad.get_data(as_text=True)
    ok = admin.post("/staff/press/directory", data={
        "csrf_token": token, "department_id": str(staff.roads), "name": "王芳", "role": "新闻发言人",
        "office_phone": "0570-5550123", "duty_hours": "工作日 8:30–17:30", "sort_order": "1"})
    assert ok.status_code == 303
    with app.app_context():
        entry_id = db.session.scalar(select(DirectoryEntry.id))
    page = app.test_client().get("/press/contacts")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Set-Cookie" not in page.headers
    assert "测试县交通运输局" in html and "王芳" in html and 'href="tel:0570-5550123"' in html
    for feed in ["/news/feed.rss", "/news/feed.atom", "/press/conferences.ics", "/feeds/bulletins.atom",
                 "/api/v1/openapi.json"]:
        assert f'href="{feed}"' in html, feed
    edit = admin.post(f"/staff/press/directory/{entry_id}", data={
        "csrf_token": token, f"e{entry_id}-department_id": str(staff.roads), f"e{entry_id}-name": "王芳",
        f"e{entry_id}-role": "副局长、新闻发言人", f"e{entry_id}-office_phone": "0570-5550124"})
    assert edit.status_code == 303
    assert "0570-5550124" in app.test_client().get("/press/contacts").get_data(as_text=True)
    assert admin.post(f"/staff/press/directory/{entry_id}/delete", data={"csrf_token": token}).status_code == 303
    assert "王芳" not in app.test_client().get("/press/contacts").get_data(as_text=True)


@pytest.mark.parametrize("role", ["office", "responder"])
def test_other_roles_cannot_publish(app, staff, role):
    client = app.test_client()
    AuthActions(client).login(role)
    assert client.get("/staff/press").status_code == 403
    token = csrf_token(client, "/staff/")
    r = client.post("/staff/press/releases", data={"csrf_token": token, "type": "news", "title": "x", "body": "y"})
    assert r.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count(Release.id))) == 0


def test_upload_without_a_token_is_refused_even_when_signed_out(app, staff):
    client = spokesperson(app)
    _r, rid = new_release(app, client)
    anon = app.test_client()
    assert anon.post(f"/staff/press/releases/{rid}/attachments", data={"caption": ""}).status_code == 400
    assert client.post(f"/staff/press/releases/{rid}/attachments", data={"caption": ""}).status_code == 400
    assert attachments(app) == [] and stored_files(app) == []


def test_seed_demo_loads_the_press_room_once(app, runner):
    first = runner.invoke(args=["seed-demo"])
    assert "演示新闻发布：稿件 /news/qingshi-recovery-progress" in first.output, first.output
    second = runner.invoke(args=["seed-demo"])
    assert "演示新闻发布：已存在" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Release.id))) == 2
        assert db.session.scalar(select(func.count(Conference.id))) == 1
        assert db.session.scalar(select(Conference.starts_at)) > utcnow()
    kinds = sorted(a.mime for a in attachments(app))
    assert kinds == ["application/pdf", "image/png"]
    public = app.test_client()
    news = public.get("/news/qingshi-recovery-progress").get_data(as_text=True)
    assert "青石镇受灾情况统计表.pdf" in news and "/attachments/" in news
    for a in attachments(app):
        served = public.get(f"/attachments/{a.id}/{a.filename}")
        assert served.status_code == 200 and served.headers["Content-Type"] == a.mime
    pdf = public.get(f"/attachments/{[a for a in attachments(app) if a.mime == 'application/pdf'][0].id}/x").data
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    rumour = public.get("/news/rumour-shimen-reservoir").get_data(as_text=True)
    assert "石门水库大坝出现裂缝" in rumour and "大坝安全" in rumour
    assert "青石镇灾后恢复重建工作新闻发布会" in public.get("/press/conferences").get_data(as_text=True)
    assert "县政府新闻办" in public.get("/press/contacts").get_data(as_text=True)


@pytest.mark.parametrize("path", [
    "/news/..%2f..%2fetc%2fpasswd", "/news/%00", "/news/A-B", "/news/" + "a" * 300, "/news/<script>",
    "/attachments/0/x", "/attachments/99999999999999999999/x", "/attachments/1/..%2f..%2fsecret_key",
    "/attachments/1/m/x", "/news/%E4%BD%A0/feed.atom", "/news/feed.json",
])
def test_hostile_paths_are_404_not_errors(app, staff, path):
    response = app.test_client().get(path)
    assert response.status_code == 404, path
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("query", [
    "?month=0000-00", "?month=9999-12", "?month=2026-02-30", "?page=-1", "?page=0", "?topic=" + "长" * 500,
    "?type=news&type=rumour", "?topic=%00", "?month=%C2%B2",
])
def test_hostile_news_filters_are_not_errors(app, staff, query):
    assert app.test_client().get(f"/news{query}").status_code == 200
