"""Read-only JSON API (v1): incidents with their visible updates, published questions with the board's filters,
and press releases with the /news filters."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, current_app, request

from portal.errors import ValidationFailed
from portal.extensions import db
from portal.numbers import page_count
from portal.services.board import listing
from portal.services.bulletins import bulletin_read
from portal.services.press import press_read
from portal.timeutil import utcnow
from portal.urls import external_url
from portal.views import openapi as spec
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


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error under /api/v1 as JSON (404, 405 with Allow, 429, 500...): never the HTML error page."""
    response = _error(status, message)
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


BAD_QUERY = "查询参数有误。"


def _query(rules: dict[str, spec.Param]) -> tuple[dict[str, str], dict[str, str]]:
    """The query parameters as the OpenAPI document describes them: each at most once, never empty, within its
    length and pattern; (values, reasons). The service then checks what only it knows (a department exists...)."""
    values: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for name, rule in rules.items():
        given = request.args.getlist(name)
        values[name] = ""
        if not given:
            continue
        value = given[0]
        if len(given) > 1:
            reasons[name] = f"{name} 只能出现一次。"
        elif value == "":
            reasons[name] = f"{name} 不能为空；不按它筛选时请省略这个参数。"
        elif len(value) > rule.max_length or (rule.pattern and not re.fullmatch(rule.pattern, value)):
            reasons[name] = rule.message
        else:
            values[name] = value
    return values, reasons


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
    found = bulletin_read.get_incident(db.session, slug) if spec.plausible_slug(slug) else None
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
    args, reasons = _query(spec.QUESTION_PARAMS)
    try:
        filters = listing.parse_board_filters(db.session, args["department"], args["category"], args["month"],
                                              args["page"])
    except ValidationFailed as exc:
        reasons = {**exc.reasons, **reasons}
    if reasons:
        return _error(400, BAD_QUERY, reasons)
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
                "department": reply.answered_under if reply and reply.department else office,
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
    args, reasons = _query(spec.RELEASE_PARAMS)
    try:
        filters = press_read.strict_filters(args["type"], args["topic"], args["month"], args["page"])
    except ValidationFailed as exc:
        reasons = {**exc.reasons, **reasons}
    if reasons:
        return _error(400, BAD_QUERY, reasons)
    rows, total = press_read.list_releases(db.session, filters)
    per_page = press_read.PAGE_SIZE
    return _json({"page": filters.page, "pages": page_count(total, per_page), "per_page": per_page,
                  "total": total, "releases": [press_read.release_summary(r, _release_urls(r)) for r in rows]})


@bp.get("/releases/<slug>")
def release(slug: str):
    """One published release with its text, public corrections and attachments (a withdrawn one: the notice only)."""
    found = press_read.get_release(db.session, slug) if spec.plausible_slug(slug) else None
    if found is None:
        return _error(404, "没有这篇稿件。")
    return _json(press_read.release_detail(found, _release_urls(found), _attachment_urls))


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return _json(spec.document(external_url("api.incidents").rsplit("/incidents", 1)[0],
                               listing.department_slugs(db.session)))
