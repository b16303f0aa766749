"""Helpers for the press-room tests: releases, uploads and conferences through the real console forms."""

from __future__ import annotations

import io
import re

from conftest import csrf_token
from sqlalchemy import select

from portal.extensions import db
from portal.models import Attachment, Release


def new_release(app, client, expect: int = 303, **fields):
    """Post the console's release form; returns (response, release id or None)."""
    data = {"type": "news", "title": "县城区冬季供暖今日启动", "rumour": "", "topics": "民生,供暖",
            "body": "11月25日起，县城区集中供暖正式启动。", "department_id": "", "incident_slug": "", "slug": "",
            "when": "now", "publish_at": "", "submit": "发布", **fields}
    data["csrf_token"] = csrf_token(client, "/staff/press")
    response = client.post("/staff/press/releases", data=data)
    assert response.status_code == expect, response.get_data(as_text=True)[:3000]
    if response.status_code != 303:
        return response, None
    return response, int(re.search(r"/staff/press/releases/(\d+)", response.headers["Location"]).group(1))


def release_row(app, release_id: int) -> Release:
    with app.app_context():
        release = db.session.get(Release, release_id)
        db.session.expunge(release)
        return release


def upload(client, release_id: int, data: bytes, filename: str, content_type: str = "application/octet-stream",
           caption: str = ""):
    """Post one file to a release, as a browser would (the browser's claimed type is passed through)."""
    token = csrf_token(client, f"/staff/press/releases/{release_id}")
    return client.post(
        f"/staff/press/releases/{release_id}/attachments",
        data={"csrf_token": token, "caption": caption, "submit": "上传",
              "file": (io.BytesIO(data), filename, content_type)},
        content_type="multipart/form-data",
    )


def attachments(app) -> list[Attachment]:
    with app.app_context():
        rows = list(db.session.scalars(select(Attachment).order_by(Attachment.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def stored_files(app) -> list[str]:
    """Every file in the upload folder (none may be left by a refused upload)."""
    from pathlib import Path

    folder = Path(app.config["UPLOAD_DIR"])
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []
