"""The patrol (巡查): mark a source patrolled; today's coverage per department and a week's view."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from portal.errors import PortalError, ValidationFailed
from portal.extensions import db
from portal.models.staff import ROLE_ADMIN, ROLE_OFFICE, ROLE_RESPONDER, ROLE_SPOKESPERSON
from portal.services.watch import patrol as patrol_service
from portal.timeutil import to_beijing, utcnow
from portal.views.common import roles_required
from portal.views.forms import CsrfForm
from portal.views.staff import bp

PATROLLERS = (ROLE_OFFICE, ROLE_RESPONDER)
VIEWERS = (ROLE_OFFICE, ROLE_ADMIN, ROLE_RESPONDER, ROLE_SPOKESPERSON)


def _page(status: int = 200, errors: list[str] | None = None, typed: dict | None = None):
    day = patrol_service.today()
    depts = patrol_service.day_coverage(db.session, day)
    if current_user.role == ROLE_RESPONDER:  # a department sees its own sources first
        mine = current_user.department.name if current_user.department else ""
        depts.sort(key=lambda d: d.name != mine)
    days, week = patrol_service.week_coverage(db.session, day)
    half = 0 if to_beijing(utcnow()).hour < 12 else 1
    return render_template("staff/watch/patrol.html", day=day, departments=depts, days=days, week=week,
                           half=half, halves=patrol_service.HALVES, form=CsrfForm(formdata=None),
                           errors=errors or [], typed=typed or {}), status


@bp.get("/watch/patrol")
@roles_required(*VIEWERS)
def watch_patrol():
    """Today's coverage: sources not patrolled this morning or this afternoon, per department; the week."""
    return _page()


@bp.post("/watch/sources/<int:source_id>/patrol")
@roles_required(*PATROLLERS)
def watch_source_patrol(source_id: int):
    """Mark the source patrolled now (finding nothing is an answer too)."""
    typed = {"found": str(request.form.get("found", ""))[:10], "note": str(request.form.get("note", ""))[:600],
             "source": source_id}
    if not CsrfForm().validate():
        return _page(400, ["表单已过期，请刷新页面后重试。"], typed)
    raw = typed["found"].strip() or "0"
    if not raw.isdigit():
        return _page(400, ["发现条数应为 0 到 10000 之间的整数。"], typed)
    try:
        patrol_service.mark_patrolled(db.session, current_user, source_id, int(raw), typed["note"])
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(400, list(exc.reasons.values()), typed)
    except PortalError as exc:
        db.session.rollback()
        if exc.status_code == 404:
            abort(404)
        return _page(exc.status_code, [exc.message], typed)
    return redirect(url_for("staff.watch_patrol") + f"#source-{source_id}", 303)
