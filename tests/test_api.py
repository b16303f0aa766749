"""The read-only JSON API and its OpenAPI document."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from bulletin_helpers import local, open_incident, post_update, spokesperson
from conftest import AuthActions, ask_and_get_code, csrf_token
from jsonschema import Draft202012Validator
from press_helpers import attachments, new_release, release_row, upload
from sqlalchemy import select
from test_uploads import png_bytes

from portal.extensions import db
from portal.models import Question
from portal.services.press.demo_press import minimal_pdf
from portal.timeutil import utcnow


def publish_question(app, staff, **fields) -> str:
    number, _ = ask_and_get_code(app.test_client(), **fields)
    with app.app_context():
        qid = db.session.scalar(select(Question.id).where(Question.number == number))
    office = app.test_client()
    AuthActions(office).login("office")
    token = csrf_token(office, f"/staff/questions/{qid}")
    office.post(f"/staff/questions/{qid}/route", data={"department": str(staff.roads), "note": "", "csrf_token": token})
    office.post(f"/staff/questions/{qid}/reply", data={"body": "网友您好：已安排处理。", "publish": "1", "csrf_token": token})
    return number


def test_incidents_and_one_incident(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    post_update(app, client, incident.id, "第一次通报：转移群众1260人。", title="第一次通报")
    post_update(app, client, incident.id, "定时的，不应出现。", when="later", publish_at=local(utcnow() + timedelta(hours=1)))
    api = app.test_client()
    listing = api.get("/api/v1/incidents")
    assert listing.status_code == 200 and listing.mimetype == "application/json"
    assert "Set-Cookie" not in listing.headers
    data = listing.get_json()
    assert [i["slug"] for i in data["incidents"]] == [incident.slug]
    assert data["incidents"][0]["status_label"] == "进行中"
    one = api.get(f"/api/v1/incidents/{incident.slug}").get_json()
    assert [u["title"] for u in one["updates"]] == ["第一次通报"]
    assert "1260人" in one["updates"][0]["body_html"] and one["updates"][0]["url"].endswith(f"#update-{one['updates'][0]['id']}")
    assert "转移群众" in api.get(f"/api/v1/incidents/{incident.slug}").get_data(as_text=True)  # not \\u-escaped
    missing = api.get("/api/v1/incidents/nope")
    assert missing.status_code == 404 and missing.get_json()["error"]
    etag = listing.headers["ETag"]
    assert api.get("/api/v1/incidents", headers={"If-None-Match": etag}).status_code == 304


def test_questions_published_only_with_board_filters(app, staff):
    number = publish_question(app, staff, category="求助")
    ask_and_get_code(app.test_client(), title="尚未答复的留言标题")
    api = app.test_client()
    data = api.get("/api/v1/questions").get_json()
    assert [q["number"] for q in data["questions"]] == [number] and data["total"] == 1
    assert "尚未答复" not in api.get("/api/v1/questions").get_data(as_text=True)
    assert api.get("/api/v1/questions?category=求助").get_json()["total"] == 1
    assert api.get("/api/v1/questions?category=建议").get_json()["total"] == 0
    assert api.get("/api/v1/questions?department=jtj").get_json()["total"] == 1
    bad = api.get("/api/v1/questions?month=2026-13&page=%C2%B2")
    assert bad.status_code == 400 and set(bad.get_json()["reasons"]) == {"month", "page"}


def test_openapi_document_describes_every_route(app):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {"/incidents", "/incidents/{slug}", "/questions", "/releases", "/releases/{slug}"}
    api_rules = {r.rule.removeprefix("/api/v1").replace("<slug>", "{slug}") for r in app.url_map.iter_rules()
                 if r.endpoint.startswith("api.") and not r.rule.endswith("openapi.json")}
    assert api_rules == set(doc["paths"])
    for path in doc["paths"].values():
        for op in path.values():
            for response in op["responses"].values():
                ref = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                assert ref in doc["components"]["schemas"]
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


# ---- press releases -------------------------------------------------------------------------------------


def validator(doc: dict, name: str) -> Draft202012Validator:
    """A validator for one component schema of the OpenAPI document (3.1: JSON Schema 2020-12)."""
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": doc["components"]})


def assert_valid(doc: dict, name: str, data) -> None:
    errors = sorted(validator(doc, name).iter_errors(data), key=str)
    assert not errors, f"{name}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


@pytest.fixture
def press_releases(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    _r, news = new_release(app, client, title="县城区冬季供暖今日启动", topics="民生,供暖", slug="heating",
                           department_id=str(staff.roads), incident_slug=incident.slug)
    assert upload(client, news, png_bytes((1600, 900)), "供暖管网.png", "image/png", caption="管网检修").status_code == 303
    assert upload(client, news, minimal_pdf("t", []), "供暖安排.pdf", "application/pdf").status_code == 303
    token = csrf_token(client, f"/staff/press/releases/{news}")
    assert client.post(f"/staff/press/releases/{news}/correct", data={
        "csrf_token": token, "title": "", "rumour": "", "body": "11月25日 18 时起，县城区集中供暖正式启动。",
        "change_note": "补充启动时间。"}).status_code == 303
    _r, rumour = new_release(app, client, type="rumour", title="“自来水有毒”系谣言", rumour="网传自来水有毒。",
                             body="经检测，水质全部合格。", topics="辟谣,供水", slug="water-rumour")
    _r, notice = new_release(app, client, type="notice", title="停水通知", body="明日停水。", slug="water-notice",
                             topics="停水")
    new_release(app, client, title="定时的稿件", slug="later", when="later", topics="",
                publish_at=local(utcnow() + timedelta(hours=1)))
    return client, {"news": news, "rumour": rumour, "notice": notice, "incident": incident.slug}


def test_release_list_with_the_news_filters(app, press_releases):
    api = app.test_client()
    doc = api.get("/api/v1/openapi.json").get_json()
    listing = api.get("/api/v1/releases")
    assert listing.status_code == 200 and listing.mimetype == "application/json"
    assert "Set-Cookie" not in listing.headers and listing.headers["Access-Control-Allow-Origin"] == "*"
    data = listing.get_json()
    assert_valid(doc, "ReleasePage", data)
    assert [r["slug"] for r in data["releases"]] == ["water-notice", "water-rumour", "heating"]  # newest first
    assert (data["total"], data["page"], data["pages"]) == (3, 1, 1)
    heating = data["releases"][2]
    assert heating["type_label"] == "新闻稿" and heating["topics"] == ["民生", "供暖"]
    assert heating["department"] == "测试县交通运输局" and heating["incident"] == press_releases[1]["incident"]
    assert heating["edition"] == 2 and heating["withdrawn_at"] is None
    assert heating["url"] == "http://localhost/news/heating"
    assert heating["api_url"] == "http://localhost/api/v1/releases/heating"
    assert "定时的稿件" not in listing.get_data(as_text=True)

    def slugs(query: str) -> list[str]:
        response = api.get(f"/api/v1/releases{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return [r["slug"] for r in response.get_json()["releases"]]

    assert slugs("?type=rumour") == ["water-rumour"]
    assert slugs("?topic=供暖") == ["heating"]
    assert slugs("?topic=供") == []
    month = f"{utcnow() + timedelta(hours=8):%Y-%m}"
    assert slugs(f"?month={month}&type=notice") == ["water-notice"]
    assert slugs("?month=2001-01") == []
    assert slugs("?page=2") == []
    etag = listing.headers["ETag"]
    assert api.get("/api/v1/releases", headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize(("query", "fields"), [
    ("?type=press", {"type"}),
    ("?month=2026-13", {"month"}),
    ("?month=26-11", {"month"}),
    ("?page=0", {"page"}),
    ("?page=%C2%B2", {"page"}),
    ("?topic=" + "长" * 21, {"topic"}),
    ("?topic=a,b&type=x", {"topic", "type"}),
])
def test_release_list_refuses_filters_it_does_not_understand(app, staff, query, fields):
    response = app.test_client().get(f"/api/v1/releases{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "查询参数有误。" and set(body["reasons"]) == fields
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    assert_valid(doc, "Error", body)


def test_one_release_with_corrections_and_attachments(app, press_releases):
    api = app.test_client()
    doc = api.get("/api/v1/openapi.json").get_json()
    response = api.get("/api/v1/releases/heating")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    data = response.get_json()
    assert_valid(doc, "ReleaseDetail", data)
    assert "18 时起" in data["body_html"] and data["rumour_html"] == ""
    assert [(c["edition"], c["note"]) for c in data["corrections"]] == [(2, "补充启动时间。")]
    image, pdf = attachments(app)
    got = {a["filename"]: a for a in data["attachments"]}
    assert set(got) == {"供暖管网.png", "供暖安排.pdf"}
    png = got["供暖管网.png"]
    assert (png["id"], png["kind"], png["mime"], png["width"], png["height"]) == (image.id, "image", "image/png",
                                                                                  1600, 900)
    assert png["caption"] == "管网检修" and png["sha256"] == image.sha256 and png["size"] == image.size
    assert png["rendition_url"] == f"http://localhost/attachments/{image.id}/m/{quote('供暖管网.png')}"
    assert got["供暖安排.pdf"]["rendition_url"] is None and got["供暖安排.pdf"]["kind"] == "document"
    # The URLs work: they serve the files the metadata describes.
    public = app.test_client()
    for item in data["attachments"]:
        served = public.get(item["url"].removeprefix("http://localhost"))
        assert served.status_code == 200 and served.headers["Content-Type"] == item["mime"]
        assert len(served.data) == item["size"]
    small = public.get(png["rendition_url"].removeprefix("http://localhost"))
    assert small.status_code == 200 and small.headers["Content-Type"] == "image/png"

    rumour = api.get("/api/v1/releases/water-rumour").get_json()
    assert_valid(doc, "ReleaseDetail", rumour)
    assert "网传自来水有毒" in rumour["rumour_html"] and "水质全部合格" in rumour["body_html"]
    assert "网传自来水有毒" in api.get("/api/v1/releases/water-rumour").get_data(as_text=True)  # not \\u-escaped
    for missing in ["later", "nope", "A-B", "a" * 100]:
        gone = api.get(f"/api/v1/releases/{missing}")
        assert gone.status_code == 404 and gone.get_json()["error"] == "没有这篇稿件。"
        assert_valid(doc, "Error", gone.get_json())


def test_withdrawn_release_and_removed_attachment_in_the_api(app, press_releases):
    client, ids = press_releases
    api = app.test_client()
    doc = api.get("/api/v1/openapi.json").get_json()
    image, pdf = attachments(app)
    token = csrf_token(client, f"/staff/press/releases/{ids['news']}")
    assert client.post(f"/staff/press/releases/{ids['news']}/attachments/{pdf.id}/remove",
                       data={"csrf_token": token, f"a{pdf.id}-confirm": "y"}).status_code == 303
    data = api.get("/api/v1/releases/heating").get_json()
    assert [a["filename"] for a in data["attachments"]] == ["供暖管网.png"]

    assert client.post(f"/staff/press/releases/{ids['rumour']}/withdraw", data={
        "csrf_token": token, "reason": "检测报告有误，另行发布。", "confirm": "y"}).status_code == 303
    withdrawn = api.get("/api/v1/releases/water-rumour").get_json()
    assert_valid(doc, "ReleaseDetail", withdrawn)
    assert withdrawn["withdrawn_reason"] == "检测报告有误，另行发布。" and withdrawn["withdrawn_at"]
    assert withdrawn["body_html"] == withdrawn["rumour_html"] == "" and withdrawn["attachments"] == []
    assert "水质全部合格" not in api.get("/api/v1/releases/water-rumour").get_data(as_text=True)
    listed = {r["slug"]: r for r in api.get("/api/v1/releases").get_json()["releases"]}
    assert listed["water-rumour"]["withdrawn_at"] == withdrawn["withdrawn_at"]
    assert release_row(app, ids["rumour"]).withdrawn_reason == "检测报告有误，另行发布。"
