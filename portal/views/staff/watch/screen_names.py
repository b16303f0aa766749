"""The screen-name registry (网名备案) per department: on screen, the office's form, and an XLSX export."""

from __future__ import annotations

import io
from datetime import date

from flask import abort, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from portal import sheets
from portal.errors import NotFound, PortalError, ValidationFailed
from portal.extensions import db
from portal.models import StaffUser
from portal.models.staff import ROLE_ADMIN, ROLE_OFFICE, ROLE_RESPONDER
from portal.models.watch import PLATFORMS
from portal.numbers import parse_positive_int
from portal.services.watch import screen_names as service
from portal.timeutil import to_beijing, utcnow
from portal.views.common import roles_required
from portal.views.forms import CsrfForm
from portal.views.staff import bp

KEEPERS = (ROLE_OFFICE, ROLE_ADMIN)
FIELDS = ("platform", "name", "staff_user", "official", "registered_on")


def _page(status: int = 200, errors: dict[str, str] | None = None, typed: dict | None = None):
    users = list(db.session.scalars(select(StaffUser).where(StaffUser.active.is_(True), StaffUser.role.in_(
        (ROLE_RESPONDER, ROLE_OFFICE))).order_by(StaffUser.department_id, StaffUser.username)))
    return render_template("staff/watch/screen_names.html", groups=service.registry(db.session), users=users,
                           platforms=PLATFORMS, form=CsrfForm(formdata=None), errors=errors or {},
                           typed=typed or {}), status


@bp.get("/screen-names")
@roles_required(*KEEPERS)
def screen_names():
    """The registry per department, the office's official accounts first."""
    return _page()


@bp.post("/screen-names")
@roles_required(*KEEPERS)
def screen_name_create():
    """Register a screen name for a staff account on one platform, or an official account of the office."""
    typed = {k: str(request.form.get(k, ""))[:200] for k in FIELDS}
    if not CsrfForm().validate():
        return _page(400, {"form": "表单已过期，请刷新页面后重试。"}, typed)
    when = None
    if typed["registered_on"].strip():
        try:
            when = date.fromisoformat(typed["registered_on"].strip())
        except ValueError:
            return _page(400, {"registered_on": "备案日期格式应为 2026-11-30。"}, typed)
    try:
        service.register(db.session, current_user, typed["platform"], typed["name"],
                         parse_positive_int(typed["staff_user"], 10**9), typed["official"] in ("1", "on"), when)
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(400, exc.reasons, typed)
    except PortalError as exc:
        db.session.rollback()
        return _page(exc.status_code, {"form": exc.message}, typed)
    return redirect(url_for("staff.screen_names"), 303)


@bp.post("/screen-names/<int:screen_name_id>/retire")
@roles_required(*KEEPERS)
def screen_name_retire(screen_name_id: int):
    """Stop a registration; answers already recorded keep it."""
    if not CsrfForm().validate():
        return _page(400, {"form": "表单已过期，请刷新页面后重试。"})
    try:
        service.retire(db.session, current_user, screen_name_id)
    except NotFound:
        abort(404)
    except PortalError as exc:
        db.session.rollback()
        return _page(exc.status_code, {"form": exc.message})
    return redirect(url_for("staff.screen_names"), 303)


@bp.get("/screen-names.xlsx")
@roles_required(*KEEPERS)
def screen_names_xlsx():
    """The registry as an Excel workbook, one row per screen name."""
    buffer = io.BytesIO()
    sheets.write_xlsx(buffer, "网名备案", [sheets.Column(h) for h in service.XLSX_HEADERS],
                      service.xlsx_rows(db.session))
    buffer.seek(0)
    return send_file(buffer, as_attachment=True, download_name=f"screen-names-{to_beijing(utcnow()):%Y%m%d}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
