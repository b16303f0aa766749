"""The ledger (台账) on screen and as CSV / XLSX exports (streamed, capped), and the staff statistics page."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Response, current_app, render_template, request, send_file, stream_with_context
from flask_login import current_user

from portal.errors import ValidationFailed
from portal.extensions import db
from portal.models.question import CATEGORIES, RATINGS, STATUS_LABELS
from portal.models.staff import ROLE_ADMIN, ROLE_OFFICE, ROLE_SPOKESPERSON
from portal.models.watch_loop import ITEM_STATUS_LABELS
from portal.services import audit
from portal.services.board import listing
from portal.services.desk import channels, exports, ledger, ledger_watch, stats
from portal.timeutil import to_beijing, utcnow
from portal.views import charts
from portal.views.common import roles_required
from portal.views.forms import CsrfForm
from portal.views.staff import bp

LEDGER_ROLES = (ROLE_OFFICE, ROLE_ADMIN, ROLE_SPOKESPERSON)


def _choices() -> dict:
    return {
        "departments": listing.departments(db.session), "categories": CATEGORIES,
        "statuses": {**STATUS_LABELS, **ITEM_STATUS_LABELS}, "ratings": RATINGS, "channels": ledger.CHANNELS,
        "platforms": ledger_watch.platforms(db.session),
    }


def invalid_filters(exc: ValidationFailed, source: Mapping[str, str]):
    """The ledger page with the messages and the filters as typed (400)."""
    raw = {k: str(source.get(k, ""))[:100] for k in ledger.FILTER_NAMES if k != "page"}
    return render_template("staff/desk/ledger.html", rows=[], has_next=False, filters=None, raw=raw,
                           headers=ledger.HEADERS, errors=list(exc.reasons.values()), **_choices()), 400


@bp.get("/ledger")
@roles_required(*LEDGER_ROLES)
def ledger_page():
    """Every item with its times, department, category, status and rating; filters; export links."""
    try:
        filters = ledger.parse_ledger_filters(db.session, request.args)
    except ValidationFailed as exc:
        return invalid_filters(exc, request.args)
    rows, has_next = ledger.page(db.session, filters)
    total = ledger.count(db.session, filters)
    limit = int(current_app.config["EXPORT_MAX_ROWS"])
    return render_template(
        "staff/desk/ledger.html", rows=rows, has_next=has_next, filters=filters, raw=filters.raw,
        headers=ledger.HEADERS, errors=[], total=total, limit=limit,
        background=min(total, limit) > int(current_app.config["EXPORT_BACKGROUND_ROWS"]),
        export_form=CsrfForm(formdata=None), jobs=exports.recent(db.session, current_user), **_choices(),
    )


def _audit_direct(filters: ledger.LedgerFilters, fmt: str) -> None:
    raw = {k: v for k, v in filters.raw.items() if v and k != "page"}
    audit.record(db.session, current_user, "ledger.export", "ledger", None, format=fmt, filters=raw,
                 background=False)
    db.session.commit()


def _filename(ext: str) -> str:
    return f"ledger-{to_beijing(utcnow()):%Y%m%d-%H%M}.{ext}"


@bp.get("/ledger.csv")
@roles_required(*LEDGER_ROLES)
def ledger_csv():
    """The ledger as CSV, streamed row by row (a huge range never sits in memory), capped."""
    try:
        filters = ledger.parse_ledger_filters(db.session, request.args)
    except ValidationFailed as exc:
        return invalid_filters(exc, request.args)
    limit = int(current_app.config["EXPORT_MAX_ROWS"])
    _audit_direct(filters, "csv")
    body = stream_with_context(ledger.csv_chunks(db.session, filters, limit))
    # A text/* mimetype gets "; charset=utf-8" from werkzeug: naming it here too sent it twice.
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{_filename("csv")}"'})


@bp.get("/ledger.xlsx")
@roles_required(*LEDGER_ROLES)
def ledger_xlsx():
    """The ledger as an Excel workbook (openpyxl write-only into a temporary file), capped."""
    try:
        filters = ledger.parse_ledger_filters(db.session, request.args)
    except ValidationFailed as exc:
        return invalid_filters(exc, request.args)
    _audit_direct(filters, "xlsx")
    handle = ledger.xlsx_file(db.session, filters, int(current_app.config["EXPORT_MAX_ROWS"]))
    return send_file(handle, as_attachment=True, download_name=_filename("xlsx"),
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.get("/stats")
@roles_required(*LEDGER_ROLES)
def staff_stats():
    """The month's figures per department plus the last 12 months' trends, and the summary export."""
    try:
        month = stats.parse_month(request.args.get("month")) or stats.month_key(utcnow())
    except ValidationFailed as exc:
        return render_template("errors/error.html", code=400, title="请求有误",
                               message=exc.reasons["month"]), 400
    figures = stats.month_stats(db.session, month)
    months = stats.trend(db.session, stats.add_months(month, -11), month)
    watch_months = channels.trend(db.session, stats.add_months(month, -11), month)
    return render_template(
        "staff/desk/stats.html", month=month, figures=figures, months=months, watched=channels.month_figures(
            db.session, month), watch_months=watch_months, channel_chart=charts.channel_lines(months, watch_months),
        dept_chart=charts.department_bars(figures), trend_chart=charts.trend_lines(months),
        rate_chart=charts.rate_lines(months), pct=stats.percent, hrs=stats.hours_text, user=current_user,
    )


@bp.get("/stats/summary")
@roles_required(*LEDGER_ROLES)
def stats_summary():
    """The monthly summary skeleton (月度舆情小结) as a Markdown text file to finish by hand."""
    try:
        month = stats.parse_month(request.args.get("month")) or stats.month_key(utcnow())
    except ValidationFailed as exc:
        return render_template("errors/error.html", code=400, title="请求有误",
                               message=exc.reasons["month"]), 400
    text = stats.summary_text(db.session, month, current_app.config["OFFICE_NAME"])
    return Response(text, mimetype="text/markdown",
                    headers={"Content-Disposition": f'attachment; filename="summary-{month}.md"'})


# The yearly assessment sits next to the statistics it builds on.
from portal.views.staff.desk import assessment as _assessment  # noqa: E402, F401
