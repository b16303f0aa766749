"""Read-only JSON API (v1): incidents with their visible updates, published questions with the board's filters,
and press releases with the /news filters."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, request

from portal.errors import ValidationFailed
from portal.extensions import db
from portal.services.board import listing
from portal.services.bulletins import bulletin_read
from portal.services.press import press_read
from portal.timeutil import utcnow
from portal.urls import external_url
from portal.views.news import attachment_url

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _json(data: Any, status: int = 200) -> Response:
    response = Response(json.dumps(data, ensure_ascii=False, indent=1), status=status,
                        mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=0, must-revalidate"
    response.headers["Access-Control-Allow-Origin"] = "*"
    if status == 200:
        response.add_etag()
        response.make_conditional(request)
    return response


def _error(status: int, message: str, reasons: dict[str, str] | None = None) -> Response:
    return _json({"error": message, "reasons": reasons or {}}, status)


def _incident(incident) -> dict:
    return bulletin_read.incident_summary(incident, {
        "url": external_url("incidents.detail", slug=incident.slug),
        "api_url": external_url("api.incident", slug=incident.slug),
        "feeds": {
            "rss": external_url("feeds.incident_rss", slug=incident.slug),
            "atom": external_url("feeds.incident_atom", slug=incident.slug),
        },
    })


@bp.get("/incidents")
def incidents():
    """Every incident, active first."""
    return _json({"incidents": [_incident(i) for i in bulletin_read.list_incidents(db.session)]})


@bp.get("/incidents/<slug>")
def incident(slug: str):
    """One incident with its visible updates, newest first."""
    found = bulletin_read.get_incident(db.session, slug)
    if found is None:
        return _error(404, "没有这个事件。")
    data = _incident(found)
    data["updates"] = [
        bulletin_read.update_json(
            u, external_url("incidents.detail", slug=found.slug, _anchor=u.anchor)
        )
        for u in found.visible_updates(utcnow())
    ]
    return _json(data)


@bp.get("/questions")
def questions():
    """Published questions and their answers; filters: department (slug), category, month (YYYY-MM), page."""
    args = request.args
    try:
        filters = listing.parse_board_filters(
            db.session, args.get("department", "")[:40], args.get("category", "")[:8], args.get("month", "")[:7],
            args.get("page", "")[:6],
        )
    except ValidationFailed as exc:
        return _error(400, "查询参数有误。", exc.reasons)
    per_page = int(current_app.config["BOARD_PAGE_SIZE"])
    page = listing.published_board(db.session, filters, per_page)
    items = []
    office = current_app.config["OFFICE_NAME"]
    for q in page.items:
        reply = q.reply
        items.append({
            "number": q.number,
            "title": q.title,
            "body": q.body,
            "category": q.category,
            "department": q.department.slug if q.department else None,
            "asked_at": q.received_at.isoformat(),
            "published_at": q.published_at.isoformat() if q.published_at else None,
            "reply": {
                "department": reply.department.name if reply and reply.department else office,
                "body_html": reply.body_html if reply else "",
            },
            "url": external_url("questions.detail", number=q.number),
        })
    return _json({"page": page.page, "pages": page.pages, "per_page": per_page, "total": page.total,
                  "questions": items})


def _release_urls(release) -> dict:
    return {
        "url": external_url("news.detail", slug=release.slug),
        "api_url": external_url("api.release", slug=release.slug),
    }


def _attachment_urls(attachment) -> dict:
    return {
        "url": attachment_url(attachment, external=True),
        "rendition_url": attachment_url(attachment, small=True, external=True) if attachment.rendition_name else None,
    }


@bp.get("/releases")
def releases():
    """Published press releases, newest first; filters as on /news: type, topic, month (YYYY-MM), page."""
    args = request.args
    try:
        filters = press_read.strict_filters(args.get("type", "")[:20], args.get("topic", "")[:40],
                                            args.get("month", "")[:7], args.get("page", "")[:6])
    except ValidationFailed as exc:
        return _error(400, "查询参数有误。", exc.reasons)
    rows, total = press_read.list_releases(db.session, filters)
    per_page = press_read.PAGE_SIZE
    return _json({"page": filters.page, "pages": max(1, -(-total // per_page)), "per_page": per_page,
                  "total": total, "releases": [press_read.release_summary(r, _release_urls(r)) for r in rows]})


@bp.get("/releases/<slug>")
def release(slug: str):
    """One published release with its text, public corrections and attachments (a withdrawn one: the notice only)."""
    found = press_read.get_release(db.session, slug)
    if found is None:
        return _error(404, "没有这篇稿件。")
    return _json(press_read.release_detail(found, _release_urls(found), _attachment_urls))


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    from portal.views.openapi import document

    return _json(document(external_url("api.incidents").rsplit("/incidents", 1)[0]))
