"""Each department's alert channels (Apprise URLs): shown masked, added and removed by the office."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.errors import NotFound, ValidationFailed
from portal.extensions import db
from portal.models import Department
from portal.services.watch import channels as channel_service
from portal.views.common import apply_reasons, roles_required
from portal.views.forms import CsrfForm, options
from portal.views.staff import bp
from portal.views.staff.watch.forms import ChannelForm
from portal.views.staff.watch.manage import MANAGERS


def _channel_form(formdata: bool = False) -> ChannelForm:
    form = ChannelForm() if formdata else ChannelForm(formdata=None)
    departments = db.session.scalars(select(Department).order_by(Department.name))
    form.department_id.choices = options([("", "（请选择）")] + [(str(d.id), d.name) for d in departments])
    return form


def _page(form: ChannelForm, errors: list[str], status: int = 200, message: str = ""):
    return render_template("staff/watch/channels.html", form=form, errors=errors, message=message,
                           rows=channel_service.list_channels(db.session), remove_form=CsrfForm(formdata=None),
                           examples=channel_service.EXAMPLES), status


@bp.get("/watch/channels")
@roles_required(*MANAGERS)
def watch_channels():
    """Every department's alert channels, masked, and a form to add some."""
    return _page(_channel_form(), [])


@bp.post("/watch/channels")
@roles_required(*MANAGERS)
def watch_channel_add():
    """Add Apprise URLs to a department's channels."""
    form = _channel_form(formdata=True)
    if not form.validate():
        return _page(form, ["页面已过期，请重新提交。"], 400)
    raw = form.department_id.data or ""
    try:
        added = channel_service.add_channels(db.session, current_user, int(raw) if raw.isdigit() else None,
                                             (form.alert_urls.data or "").split())
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(form, apply_reasons(form, exc.reasons), 400)
    return _page(_channel_form(), [], 200, f"已添加 {added} 个推送地址。")


@bp.post("/watch/channels/<int:department_id>/remove")
@roles_required(*MANAGERS)
def watch_channel_remove(department_id: int):
    """Remove one channel of a department (named by its key, never by the URL)."""
    if not CsrfForm().validate():
        abort(400)
    try:
        channel_service.remove_channel(db.session, current_user, department_id, request.form.get("key", ""))
    except NotFound:
        db.session.rollback()
        abort(404)
    return redirect(url_for("staff.watch_channels"), 303)
