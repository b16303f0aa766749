"""Pages found by hand: paste a URL (only recorded here; the worker fetches it), see what became of it."""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.errors import NotFound, ValidationFailed
from portal.extensions import db
from portal.models.watch import WatchSource
from portal.services.watch import capture as capture_service
from portal.timeutil import utcnow
from portal.views.common import apply_reasons, roles_required
from portal.views.forms import CsrfForm, options
from portal.views.staff import bp
from portal.views.staff.watch.desk import READERS
from portal.views.staff.watch.forms import CaptureForm


def _capture_form(formdata: bool = False) -> CaptureForm:
    form = CaptureForm() if formdata else CaptureForm(formdata=None)
    sources = db.session.scalars(select(WatchSource).order_by(WatchSource.region, WatchSource.name))
    choices = [("", "（按网址判断）")] + [(str(s.id), f"{s.name}（{s.platform}）") for s in sources]
    form.source_id.choices = options(choices)
    return form


def _page(form: CaptureForm, errors: list[str], status: int = 200):
    return render_template("staff/watch/captures.html", form=form, errors=errors,
                           captures=capture_service.recent_captures(db.session),
                           retry_form=CsrfForm(formdata=None)), status


@bp.get("/watch/captures")
@roles_required(*READERS)
def watch_captures():
    """The paste-a-URL form and the latest pasted pages with their state."""
    return _page(_capture_form(), [])


@bp.post("/watch/captures")
@roles_required(*READERS)
def watch_capture_create():
    """Record a pasted URL; the worker fetches it, keeps a snapshot and makes it a watched item."""
    form = _capture_form(formdata=True)
    if not form.validate():
        return _page(form, ["页面已过期，请重新提交。"], 400)
    raw = form.source_id.data or ""
    try:
        capture_service.submit(db.session, current_user, form.url.data or "",
                               int(raw) if raw.isdigit() else None, utcnow())
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(form, apply_reasons(form, exc.reasons), 400)
    return redirect(url_for("staff.watch_captures"), 303)


@bp.post("/watch/captures/<int:capture_id>/retry")
@roles_required(*READERS)
def watch_capture_retry(capture_id: int):
    """Queue a failed page again."""
    try:
        capture = capture_service.get_capture(db.session, capture_id)
    except NotFound:
        abort(404)
    if not CsrfForm().validate():
        abort(400)
    try:
        capture_service.retry(db.session, current_user, capture, utcnow())
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(_capture_form(), list(exc.reasons.values()), 409)
    return redirect(url_for("staff.watch_captures"), 303)
