"""Helpers for the bulletin tests: a spokesperson's browser, opening incidents and posting updates via the console."""

from __future__ import annotations

import re
from datetime import timedelta

from conftest import AuthActions, csrf_token
from sqlalchemy import select

from portal.extensions import db
from portal.models import Incident, Update
from portal.timeutil import to_beijing, utcnow

FEEDS = ["/feeds/bulletins.rss", "/feeds/bulletins.atom"]


def local(dt) -> str:
    """A datetime as the console's form expects it (Beijing time, no offset)."""
    return f"{to_beijing(dt):%Y-%m-%d %H:%M}"


def spokesperson(app, username: str = "spokesperson"):
    client = app.test_client()
    assert AuthActions(client).login(username).status_code == 303
    return client


def open_incident(app, client, title="青石镇山洪灾害", slug="qingshi-flood", **extra) -> Incident:
    data = {
        "title": title, "slug": slug, "severity": "3", "status": "ongoing",
        "started_at": local(utcnow() - timedelta(hours=3)), "next_update_due_at": local(utcnow() + timedelta(hours=2)),
        "summary": "11月25日凌晨，青石镇遭遇强降雨。", **extra,
    }
    data["csrf_token"] = csrf_token(client, "/staff/bulletins")
    response = client.post("/staff/bulletins", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    incident_id = int(re.search(r"/staff/bulletins/(\d+)", response.headers["Location"]).group(1))
    with app.app_context():
        incident = db.session.get(Incident, incident_id)
        db.session.expunge(incident)
        return incident


def post_update(app, client, incident_id: int, body: str, expect: int = 303, **fields):
    """Post the console's update form; returns the response."""
    data = {"kind": "update", "title": "", "body": body, "when": "now", "publish_at": "", "press_at": "",
            "press_place": "", "livestream_url": "", "questions": "", "submit": "发布", **fields}
    data["csrf_token"] = csrf_token(client, f"/staff/bulletins/{incident_id}")
    response = client.post(f"/staff/bulletins/{incident_id}/updates", data=data)
    assert response.status_code == expect, response.get_data(as_text=True)[:3000]
    return response


def latest_update(app) -> Update:
    with app.app_context():
        update = db.session.scalar(select(Update).order_by(Update.id.desc()))
        db.session.expunge(update)
        return update
