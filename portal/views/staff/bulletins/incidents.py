"""The spokesperson's console: incidents, posting updates (with preview), corrections, withdrawal, the banner."""

from __future__ import annotations

import re

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import and_, or_, select

from portal.errors import PortalError, ValidationFailed
from portal.extensions import db
from portal.markup import render_markdown
from portal.models import AuditEntry, Incident, Update
from portal.models.staff import ROLE_ADMIN, ROLE_SPOKESPERSON
from portal.services.bulletins import bulletin_read, publishing
from portal.services.ops import delivery
from portal.views.common import apply_reasons, roles_required
from portal.views.staff import bp
from portal.views.staff.bulletins.forms import (
    CorrectionForm,
    IncidentForm,
    PinForm,
    StatusForm,
    UpdateForm,
    WithdrawForm,
)

PUBLISHERS = (ROLE_SPOKESPERSON, ROLE_ADMIN)


def _incident(incident_id: int) -> Incident:
    incident = bulletin_read.get_incident_by_id(db.session, incident_id)
    if incident is None:
        abort(404)
    return incident


def _update(update_id: int) -> Update:
    update = db.session.get(Update, update_id)
    if update is None:
        abort(404)
    return update


@bp.get("/bulletins")
@roles_required(*PUBLISHERS)
def bulletins_index():
    """Every incident with its next-update clock, and the form to open a new one."""
    return render_template(
        "staff/bulletins/index.html", incidents=bulletin_read.list_incidents(db.session),
        form=IncidentForm(formdata=None), errors=[],
    )


@bp.post("/bulletins")
@roles_required(*PUBLISHERS)
def bulletins_create():
    """Open an incident."""
    form = IncidentForm()

    def again(status: int, errors=()):
        return render_template(
            "staff/bulletins/index.html", incidents=bulletin_read.list_incidents(db.session), form=form,
            errors=list(errors),
        ), status

    if not form.validate():
        return again(400)
    data = publishing.IncidentInput(
        title=form.title.data or "", severity=form.severity.data or "", started_at=form.started_at.data or "",
        summary=form.summary.data or "", slug=form.slug.data or "", status=form.status.data or "ongoing",
        next_update_due_at=form.next_update_due_at.data or "",
    )
    try:
        incident = publishing.create_incident(db.session, current_user, data)
    except ValidationFailed as exc:
        db.session.rollback()
        return again(400, apply_reasons(form, exc.reasons))
    return redirect(url_for("staff.incident_console", incident_id=incident.id), 303)


def _console(incident: Incident, status: int = 200, errors=None, preview=None, **forms):
    update_ids = [u.id for u in incident.updates]
    history = db.session.scalars(
        select(AuditEntry)
        .where(or_(
            and_(AuditEntry.subject_type == "incident", AuditEntry.subject_id == incident.id),
            and_(AuditEntry.subject_type == "update", AuditEntry.subject_id.in_(update_ids or [0])),
        ))
        .order_by(AuditEntry.id.desc())
        .limit(100)
    ).all()
    status_form = forms.pop("status_form", None) or StatusForm(formdata=None, status=incident.status)
    return render_template(
        "staff/bulletins/incident.html", incident=incident, errors=errors or [], preview=preview, history=history,
        update_form=forms.pop("update_form", None) or UpdateForm(formdata=None), status_form=status_form,
        pin_form=PinForm(formdata=None), withdraw_form=WithdrawForm(formdata=None),
        deliveries=delivery.counts(db.session, "update", update_ids),
    ), status


@bp.get("/bulletins/<int:incident_id>")
@roles_required(*PUBLISHERS)
def incident_console(incident_id: int):
    """One incident: post an update, the timeline with correct/withdraw, status, the banner."""
    return _console(_incident(incident_id))


@bp.post("/bulletins/<int:incident_id>/updates")
@roles_required(*PUBLISHERS)
def post_update(incident_id: int):
    """Preview, or publish now / at a set time, in one step."""
    incident = _incident(incident_id)
    form = UpdateForm()
    if not form.validate():
        return _console(incident, 400, update_form=form)
    if form.preview.data:
        return _console(incident, update_form=form, preview=render_markdown(form.body.data or ""))
    data = publishing.NewUpdate(
        body=form.body.data or "", title=form.title.data or "", kind=form.kind.data or "update",
        publish_at=(form.publish_at.data or "") if form.when.data == "later" else "",
        press_at=form.press_at.data or "", press_place=form.press_place.data or "",
        livestream_url=form.livestream_url.data or "",
        question_numbers=[n for n in re.split(r"[\s,，、;；]+", form.questions.data or "") if n],
    )
    if form.when.data == "later" and not data.publish_at:
        form.publish_at.errors = ["请填写定时发布时间。"]
        return _console(incident, 400, update_form=form)
    try:
        update = publishing.post_update(
            db.session, current_user, incident, data, bool(current_app.config["BULLETIN_SIGN_WITH_NAME"])
        )
    except ValidationFailed as exc:
        db.session.rollback()
        return _console(incident, 400, errors=apply_reasons(form, exc.reasons), update_form=form)
    except PortalError as exc:
        db.session.rollback()
        return _console(incident, exc.status_code, errors=[exc.message], update_form=form)
    return redirect(url_for("staff.incident_console", incident_id=incident.id, _anchor=update.anchor), 303)


@bp.post("/bulletins/<int:incident_id>/status")
@roles_required(*PUBLISHERS)
def incident_status(incident_id: int):
    """Status and the next-update clock."""
    incident = _incident(incident_id)
    form = StatusForm()
    if not form.validate():
        return _console(incident, 400, status_form=form)
    try:
        publishing.set_incident_status(
            db.session, current_user, incident, form.status.data or "", form.next_update_due_at.data or ""
        )
    except ValidationFailed as exc:
        db.session.rollback()
        return _console(incident, 400, errors=apply_reasons(form, exc.reasons), status_form=form)
    return redirect(url_for("staff.incident_console", incident_id=incident.id), 303)


@bp.post("/bulletins/<int:incident_id>/pin")
@roles_required(*PUBLISHERS)
def incident_pin(incident_id: int):
    """Pin (or, when pinned, unpin) the crisis banner."""
    incident = _incident(incident_id)
    if not PinForm().validate():
        return _console(incident, 400, errors=["表单已过期，请重试。"])
    publishing.pin_incident(db.session, current_user, incident, incident.pinned_at is None)
    return redirect(url_for("staff.incident_console", incident_id=incident.id), 303)


def _correction_page(update: Update, form: CorrectionForm, status: int = 200, errors=None, preview=None):
    return render_template(
        "staff/bulletins/correct.html", update=update, form=form, errors=errors or [], preview=preview
    ), status


@bp.route("/bulletins/updates/<int:update_id>/correct", methods=["GET", "POST"])
@roles_required(*PUBLISHERS)
def correct_update(update_id: int):
    """A correction: a new edition with a public change note."""
    update = _update(update_id)
    if request.method == "GET":
        return _correction_page(update, CorrectionForm(formdata=None, title=update.title, body=update.body_md))
    form = CorrectionForm()
    if not form.validate():
        return _correction_page(update, form, 400)
    if form.preview.data:
        return _correction_page(update, form, preview=render_markdown(form.body.data or ""))
    try:
        publishing.correct_update(
            db.session, current_user, update, form.title.data or "", form.body.data or "", form.change_note.data or ""
        )
    except ValidationFailed as exc:
        db.session.rollback()
        return _correction_page(update, form, 400, apply_reasons(form, exc.reasons))
    except PortalError as exc:
        db.session.rollback()
        return _correction_page(update, form, exc.status_code, [exc.message])
    return redirect(url_for("staff.incident_console", incident_id=update.incident_id, _anchor=update.anchor), 303)


@bp.post("/bulletins/updates/<int:update_id>/withdraw")
@roles_required(*PUBLISHERS)
def withdraw_update(update_id: int):
    """Withdraw: the update stays visible, struck through, with the reason."""
    update = _update(update_id)
    form = WithdrawForm()
    if not form.validate():
        return _console(update.incident, 400, errors=[e for errs in form.errors.values() for e in errs])
    try:
        publishing.withdraw_update(db.session, current_user, update, form.reason.data or "")
    except PortalError as exc:
        db.session.rollback()
        return _console(update.incident, exc.status_code, errors=[exc.message])
    return redirect(url_for("staff.incident_console", incident_id=update.incident_id, _anchor=update.anchor), 303)
