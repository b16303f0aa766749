"""Public monthly statistics (/stats): per department figures and SVG charts; sets no cookie."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from portal.errors import ValidationFailed
from portal.extensions import db
from portal.services.desk import stats
from portal.views import charts

bp = Blueprint("stats", __name__)


@bp.get("/stats")
def stats_page():
    """A month's figures per department (default: the latest month with questions) and the trends."""
    try:
        month = stats.parse_month(request.args.get("month"))
    except ValidationFailed as exc:
        return render_template("errors/error.html", code=400, title="请求有误", message=exc.reasons["month"]), 400
    months = stats.months_with_questions(db.session)
    if month is None:
        month = months[0] if months else None
    if month is None:
        return render_template("stats/stats.html", month=None, months=[], figures=None)
    figures = stats.month_stats(db.session, month)
    trend = stats.trend(db.session, stats.add_months(month, -11), month)
    response = render_template(
        "stats/stats.html", month=month, months=months, figures=figures, trend=trend,
        dept_chart=charts.department_bars(figures), trend_chart=charts.trend_lines(trend),
        rate_chart=charts.rate_lines(trend), pct=stats.percent, hrs=stats.hours_text,
    )
    return response, 200, {"Cache-Control": "public, max-age=300"}
