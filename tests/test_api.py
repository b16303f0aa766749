"""The read-only JSON API and its OpenAPI document."""

from __future__ import annotations

from datetime import timedelta

from bulletin_helpers import local, open_incident, post_update, spokesperson
from conftest import AuthActions, ask_and_get_code, csrf_token
from sqlalchemy import select

from portal.extensions import db
from portal.models import Question
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
    assert set(doc["paths"]) == {"/incidents", "/incidents/{slug}", "/questions"}
    api_rules = {r.rule.removeprefix("/api/v1").replace("<slug>", "{slug}") for r in app.url_map.iter_rules()
                 if r.endpoint.startswith("api.") and not r.rule.endswith("openapi.json")}
    assert api_rules == set(doc["paths"])
    for path in doc["paths"].values():
        for op in path.values():
            for response in op["responses"].values():
                ref = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                assert ref in doc["components"]["schemas"]
