"""The press-room console's calendar and directory: conferences (announce, change, cancel) and who to call."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_login import current_user

from portal.errors import PortalError, ValidationFailed
from portal.extensions import db
from portal.models import Conference, DirectoryEntry
from portal.models.staff import ROLE_ADMIN
from portal.services.press import press_read, press_room
from portal.timeutil import BEIJING
from portal.views.common import apply_reasons, roles_required
from portal.views.staff import bp
from portal.views.staff.press.forms import ButtonForm, ConferenceForm, DirectoryForm
from portal.views.staff.press.releases import PUBLISHERS, _department_choices, _get, _int

# ---- conferences ----------------------------------------------------------------------------------------


def _conference_input(form: ConferenceForm) -> press_room.ConferenceInput:
    return press_room.ConferenceInput(
        title=form.title.data or "", starts_at=form.starts_at.data or "", place=form.place.data or "",
        duration_minutes=form.duration_minutes.data or 60, livestream_url=form.livestream_url.data or "",
        spokesperson=form.spokesperson.data or "", description=form.description.data or "",
        incident_slug=form.incident_slug.data or "", release_slug=form.release_slug.data or "",
    )


def _conferences_page(form: ConferenceForm | None = None, status: int = 200, errors=()):
    upcoming, past = press_read.conferences(db.session)
    return render_template("staff/press/conferences.html", upcoming=upcoming, past=past,
                           form=form or ConferenceForm(formdata=None), errors=list(errors),
                           button=ButtonForm(formdata=None)), status


@bp.get("/press/conferences")
@roles_required(*PUBLISHERS)
def press_conferences():
    """The calendar and the form to announce a conference."""
    return _conferences_page()


@bp.post("/press/conferences")
@roles_required(*PUBLISHERS)
def press_conference_create():
    """Announce a conference."""
    form = ConferenceForm()
    if not form.validate():
        return _conferences_page(form, 400)
    try:
        press_room.create_conference(db.session, current_user, _conference_input(form))
    except ValidationFailed as exc:
        db.session.rollback()
        return _conferences_page(form, 400, apply_reasons(form, exc.reasons))
    return redirect(url_for("staff.press_conferences"), 303)


@bp.route("/press/conferences/<int:conference_id>", methods=["GET", "POST"])
@roles_required(*PUBLISHERS)
def press_conference_edit(conference_id: int):
    """Change a conference (its calendar entry is updated in subscribed calendars)."""
    conference = _get(Conference, conference_id)
    if request.method == "GET":
        form = ConferenceForm(
            formdata=None, title=conference.title,
            starts_at=f"{conference.starts_at.astimezone(BEIJING):%Y-%m-%d %H:%M}",
            duration_minutes=int((conference.ends_at - conference.starts_at).total_seconds() // 60),
            place=conference.place, spokesperson=conference.spokesperson,
            livestream_url=conference.livestream_url or "", description=conference.description_md,
            incident_slug=conference.incident.slug if conference.incident else "",
            release_slug=conference.release.slug if conference.release else "",
        )
        return render_template("staff/press/conference.html", conference=conference, form=form, errors=[])
    form = ConferenceForm()
    errors: list[str] = []
    if form.validate():
        try:
            press_room.update_conference(db.session, current_user, conference, _conference_input(form))
            return redirect(url_for("staff.press_conferences"), 303)
        except ValidationFailed as exc:
            db.session.rollback()
            errors = apply_reasons(form, exc.reasons)
    return render_template("staff/press/conference.html", conference=conference, form=form, errors=errors), 400


@bp.post("/press/conferences/<int:conference_id>/cancel")
@roles_required(*PUBLISHERS)
def press_conference_cancel(conference_id: int):
    """Cancel a conference: it stays listed as 已取消."""
    conference = _get(Conference, conference_id)
    if not ButtonForm().validate():
        return _conferences_page(status=400, errors=["表单已过期，请重试。"])
    press_room.cancel_conference(db.session, current_user, conference)
    return redirect(url_for("staff.press_conferences"), 303)


# ---- directory (admin) ----------------------------------------------------------------------------------


def _directory_page(form: DirectoryForm | None = None, status: int = 200, errors=()):
    form = form or DirectoryForm(formdata=None)
    form.department_id.choices = _department_choices("请选择")
    rows = [(e, _entry_form(e)) for _d, entries in press_read.directory(db.session) for e in entries]
    return render_template("staff/press/directory.html", rows=rows, form=form, errors=list(errors),
                           button=ButtonForm(formdata=None)), status


def _entry_form(entry: DirectoryEntry) -> DirectoryForm:
    form = DirectoryForm(formdata=None, obj=entry, prefix=f"e{entry.id}")
    form.department_id.choices = _department_choices("请选择")
    form.department_id.data = str(entry.department_id)
    return form


def _directory_input(form: DirectoryForm) -> press_room.DirectoryInput:
    return press_room.DirectoryInput(
        department_id=_int(form.department_id.data), name=form.name.data or "", role=form.role.data or "",
        office_phone=form.office_phone.data or "", duty_hours=form.duty_hours.data or "",
        sort_order=form.sort_order.data or 0,
    )


@bp.get("/press/directory")
@roles_required(ROLE_ADMIN)
def press_directory():
    """The spokesperson directory shown on /press/contacts."""
    return _directory_page()


@bp.post("/press/directory")
@roles_required(ROLE_ADMIN)
def press_directory_add():
    """Add a row."""
    form = DirectoryForm()
    if not form.validate():
        return _directory_page(form, 400)
    try:
        press_room.save_directory_entry(db.session, current_user, _directory_input(form))
    except PortalError as exc:
        db.session.rollback()
        return _directory_page(form, 400, apply_reasons(form, getattr(exc, "reasons", {"": exc.message})))
    return redirect(url_for("staff.press_directory"), 303)


@bp.post("/press/directory/<int:entry_id>")
@roles_required(ROLE_ADMIN)
def press_directory_edit(entry_id: int):
    """Change a row."""
    entry = _get(DirectoryEntry, entry_id)
    form = DirectoryForm(prefix=f"e{entry.id}")
    if not form.validate():
        return _directory_page(status=400, errors=[e for errs in form.errors.values() for e in errs])
    try:
        press_room.save_directory_entry(db.session, current_user, _directory_input(form), entry)
    except ValidationFailed as exc:
        db.session.rollback()
        return _directory_page(status=400, errors=list(exc.reasons.values()))
    return redirect(url_for("staff.press_directory"), 303)


@bp.post("/press/directory/<int:entry_id>/delete")
@roles_required(ROLE_ADMIN)
def press_directory_delete(entry_id: int):
    """Remove a row."""
    entry = _get(DirectoryEntry, entry_id)
    if not ButtonForm().validate():
        return _directory_page(status=400, errors=["表单已过期，请重试。"])
    press_room.delete_directory_entry(db.session, current_user, entry)
    return redirect(url_for("staff.press_directory"), 303)
