"""The yearly assessment (年度考核) per department: a printable A4 page and an XLSX."""

from __future__ import annotations

import io

from flask import current_app, render_template, request, send_file

from portal import sheets
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.models.staff import ROLE_ADMIN, ROLE_OFFICE, ROLE_SPOKESPERSON
from portal.services.desk import assessment
from portal.services.desk.stats import percent
from portal.timeutil import to_beijing, utcnow
from portal.views.common import roles_required
from portal.views.staff import bp

READERS = (ROLE_OFFICE, ROLE_ADMIN, ROLE_SPOKESPERSON)


def _year():
    return assessment.parse_year(request.args.get("year"), to_beijing(utcnow()).year)


def _bad_year(exc: ValidationFailed):
    return render_template("errors/error.html", code=400, title="请求有误", message=exc.reasons["year"]), 400


@bp.get("/assessment")
@roles_required(*READERS)
def assessment_page():
    """Each department's year on the three standards, its score and level; prints on A4."""
    try:
        year = _year()
    except ValidationFailed as exc:
        return _bad_year(exc)
    settings = assessment.settings_from(current_app.config)
    results = assessment.assess(db.session, year, settings)
    return render_template("staff/desk/assessment.html", year=year, results=results, settings=settings,
                           pct=percent, levels=assessment.LEVELS, standards=assessment.STANDARDS)


@bp.get("/assessment.xlsx")
@roles_required(*READERS)
def assessment_xlsx():
    """The assessment as an Excel workbook."""
    try:
        year = _year()
    except ValidationFailed as exc:
        return _bad_year(exc)
    results = assessment.assess(db.session, year, assessment.settings_from(current_app.config))
    buffer = io.BytesIO()
    sheets.write_xlsx(buffer, f"{year}年度考核", [sheets.Column(h) for h in assessment.XLSX_HEADERS],
                      assessment.xlsx_rows(results))
    buffer.seek(0)
    return send_file(buffer, as_attachment=True, download_name=f"assessment-{year}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
