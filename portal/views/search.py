"""Search over the answered questions, and suggestions while asking."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, jsonify, render_template, request, url_for

from portal.extensions import db, limiter
from portal.models.question import CATEGORIES
from portal.numbers import parse_positive_int
from portal.search import IndexUnavailable, SearchQuery, backend
from portal.services.board import listing

bp = Blueprint("search", __name__)

QUERY_MAX = 100
PER_PAGE = 10


def _parse(args) -> tuple[SearchQuery | None, dict[str, str]]:
    errors: dict[str, str] = {}
    text = " ".join(args.get("q", "").split())
    if len(text) > QUERY_MAX:
        errors["q"] = f"搜索词不超过 {QUERY_MAX} 个字。"
    department = args.get("department", "").strip()[:40] or None
    if department and department not in {d.slug for d in listing.departments(db.session)}:
        errors["department"] = "没有这个部门。"
    category = args.get("category", "").strip()[:8] or None
    if category and category not in CATEGORIES:
        errors["category"] = "类别应为咨询、建议、投诉或求助。"
    dates: dict[str, date | None] = {}
    for key, label in (("from", "开始日期"), ("to", "结束日期")):
        raw = args.get(key, "").strip()[:10]
        try:
            dates[key] = date.fromisoformat(raw) if raw else None
        except ValueError:
            errors[key] = f"{label}格式应为 2026-11-25。"
    if dates.get("from") and dates.get("to") and dates["from"] > dates["to"]:
        errors["to"] = "结束日期不能早于开始日期。"
    raw_page = args.get("page", "1").strip()[:6]
    page = parse_positive_int(raw_page, 100)
    if page is None:
        errors["page"] = "页码应为 1-100 的整数。"
    if errors:
        return None, errors
    return (
        SearchQuery(text=text, department=department, category=category, date_from=dates["from"],
                    date_to=dates["to"], page=page or 1, per_page=PER_PAGE),
        {},
    )


@bp.get("/search")
@limiter.limit(lambda: current_app.config["RATELIMIT_SEARCH"])
def search_page():
    """Ranked results with highlighted snippets, the total, facets by department, help when nothing matches."""
    departments = listing.departments(db.session)
    names = {d.slug: d.name for d in departments}
    query, errors = _parse(request.args)
    context = {"args": request.args, "departments": departments, "names": names, "errors": errors,
               "result": None, "query": query, "notice": None}
    if errors:
        return render_template("search/results.html", **context), 400
    if not query.text and not (query.department or query.category or query.date_from or query.date_to):
        return render_template("search/results.html", **context)
    try:
        context["result"] = backend().search(query)
    except IndexUnavailable:
        context["notice"] = "搜索索引正在建立或修复，请稍后再试。您也可以先浏览留言板。"
        return render_template("search/results.html", **context), 503
    return render_template("search/results.html", **context)


@bp.get("/search/similar")
@limiter.limit(lambda: current_app.config["RATELIMIT_SEARCH"])
def similar():
    """JSON: up to 5 answered questions similar to a title being typed on the ask page."""
    title = " ".join(request.args.get("title", "").split())[:QUERY_MAX]
    items = []
    if len(title) >= 2:
        try:
            hits = backend().similar(title, "", 5)
        except IndexUnavailable:
            hits = []
        # One suggestion per question, even if the index briefly holds a document twice (seen once under load).
        first: dict[str, object] = {}
        for h in hits:
            first.setdefault(h.number, h)
        unique = list(first.values())
        items = [
            {"number": h.number, "title": h.title, "department": h.department,
             "url": url_for("questions.detail", number=h.number)}
            for h in unique
        ]
    response = jsonify({"items": items})
    response.headers["Cache-Control"] = f"public, max-age={current_app.config.get('SIMILAR_MAX_AGE', 60)}"
    return response
