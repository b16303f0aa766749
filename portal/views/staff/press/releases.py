"""The press-room console: releases (preview, now or scheduled, corrections, withdrawal, attachments); the calendar
and the directory are in press_room.py."""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.datastructures import ImmutableMultiDict
from wtforms import ValidationError

from portal.errors import PortalError, ValidationFailed
from portal.extensions import csrf, db
from portal.markup import render_markdown
from portal.models import Attachment, Release
from portal.models.staff import ROLE_ADMIN, ROLE_SPOKESPERSON
from portal.services.board import listing
from portal.services.ops import delivery
from portal.services.press import newsroom, press_read, uploads
from portal.views.common import apply_reasons, roles_required
from portal.views.forms import options
from portal.views.staff import bp
from portal.views.staff.press.forms import (
    AttachmentForm,
    AttachmentRemoveForm,
    ReleaseCorrectionForm,
    ReleaseForm,
    ReleaseWithdrawForm,
)

PUBLISHERS = (ROLE_SPOKESPERSON, ROLE_ADMIN)
# Multipart overhead allowed on top of the file itself.
FORM_SLACK = 256 * 1024


def _department_choices(blank: str):
    return options([("", blank)] + [(str(d.id), d.name) for d in listing.departments(db.session)])


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _get(model, object_id: int):
    found = db.session.get(model, object_id) if 0 < object_id < 2**31 else None
    if found is None:
        abort(404)
    return found


# ---- releases -------------------------------------------------------------------------------------------


def _index(form: ReleaseForm | None = None, status: int = 200, errors=(), preview=None):
    if form is None:
        form = ReleaseForm(formdata=None)
    form.department_id.choices = _department_choices("（以政府办名义发布）")
    return render_template("staff/press/index.html", releases=press_read.all_releases(db.session), form=form,
                           errors=list(errors), preview=preview), status


@bp.get("/press")
@roles_required(*PUBLISHERS)
def press_index():
    """Every release (scheduled ones marked) and the form for a new one."""
    return _index()


@bp.post("/press/releases")
@roles_required(*PUBLISHERS)
def press_create():
    """Preview, or publish now / at a set time."""
    form = ReleaseForm()
    if not form.validate():
        return _index(form, 400)
    if form.preview.data:
        rumour = render_markdown(form.rumour.data or "") if form.type.data == "rumour" else ""
        return _index(form, preview=rumour + render_markdown(form.body.data or ""))
    data = newsroom.ReleaseInput(
        title=form.title.data or "", type=form.type.data or "", body=form.body.data or "",
        rumour=form.rumour.data or "", topics=form.topics.data or "", department_id=_int(form.department_id.data),
        incident_slug=form.incident_slug.data or "", slug=form.slug.data or "",
        publish_at=(form.publish_at.data or "") if form.when.data == "later" else "",
    )
    if form.when.data == "later" and not data.publish_at:
        form.publish_at.errors = ["请填写定时发布时间。"]
        return _index(form, 400)
    try:
        release = newsroom.create_release(db.session, current_user, data,
                                       bool(current_app.config["BULLETIN_SIGN_WITH_NAME"]))
    except ValidationFailed as exc:
        db.session.rollback()
        return _index(form, 400, apply_reasons(form, exc.reasons))
    return redirect(url_for("staff.press_release", release_id=release.id), 303)


def _release_page(release: Release, status: int = 200, errors=(), preview=None, **forms):
    correction = forms.get("correction") or ReleaseCorrectionForm(
        formdata=None, title=release.title, body=release.body_md, rumour=release.rumour_md)
    removing = forms.get("remove")
    remove_forms = {
        a.id: removing if removing is not None and removing._prefix == f"a{a.id}-"
        else AttachmentRemoveForm(formdata=None, prefix=f"a{a.id}")
        for a in release.current_attachments
    }
    return render_template(
        "staff/press/release.html", release=release, errors=list(errors), preview=preview, correction=correction,
        upload=forms.get("upload") or AttachmentForm(formdata=None),
        withdraw=forms.get("withdraw") or ReleaseWithdrawForm(formdata=None), remove_forms=remove_forms,
        max_size=uploads.human_size(int(current_app.config["UPLOAD_MAX_BYTES"])),
        deliveries=delivery.counts(db.session, "release", [release.id]).get(release.id, {}),
    ), status


@bp.get("/press/releases/<int:release_id>")
@roles_required(*PUBLISHERS)
def press_release(release_id: int):
    """One release: attachments and corrections."""
    return _release_page(_get(Release, release_id))


@bp.post("/press/releases/<int:release_id>/correct")
@roles_required(*PUBLISHERS)
def press_correct(release_id: int):
    """A correction: a new edition with a public change note."""
    release = _get(Release, release_id)
    form = ReleaseCorrectionForm()
    if not form.validate():
        return _release_page(release, 400, correction=form)
    if form.preview.data:
        return _release_page(release, preview=render_markdown(form.body.data or ""), correction=form)
    try:
        newsroom.correct_release(db.session, current_user, release, form.title.data or "", form.body.data or "",
                              form.rumour.data or "", form.change_note.data or "")
    except ValidationFailed as exc:
        db.session.rollback()
        return _release_page(release, 400, apply_reasons(form, exc.reasons), correction=form)
    except PortalError as exc:
        db.session.rollback()
        return _release_page(release, exc.status_code, [exc.message], correction=form)
    return redirect(url_for("staff.press_release", release_id=release.id), 303)


def large_upload(view):
    """Let this route alone accept UPLOAD_MAX_BYTES: refuse a bigger body unread, then check the CSRF token.

    The app-wide CSRF check would parse the form under MAX_CONTENT_LENGTH before the view could raise the
    limit, so the route is exempt from it and checks the token here, before anything else (as the global
    check would: a request without a token gets 400 even from a signed-out browser).
    """

    @wraps(view)
    def wrapped(*args, **kwargs):
        limit = int(current_app.config["UPLOAD_MAX_BYTES"])
        if request.content_length is not None and request.content_length > limit + FORM_SLACK:
            message = f"文件过大：不能超过 {uploads.human_size(limit)}。请压缩后重新上传。"
            # The page's own forms (the logout button) would read the body: mark it as read and empty.
            request.__dict__.update(form=ImmutableMultiDict(), files=ImmutableMultiDict())
            return render_template("errors/error.html", code=413, title="文件过大", message=message), 413
        request.max_content_length = limit + FORM_SLACK
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(exc.args[0]) from exc
        return view(*args, **kwargs)

    return csrf.exempt(wrapped)


@bp.post("/press/releases/<int:release_id>/attachments")
@large_upload
@roles_required(*PUBLISHERS)
def press_attach(release_id: int):
    """Upload an image or a document; a refused file is not stored and the page says why."""
    release = _get(Release, release_id)
    form = AttachmentForm()
    if not form.validate():
        return _release_page(release, 400, upload=form)
    upload = request.files.get("file")
    data = upload.read() if upload else b""
    try:
        newsroom.add_attachment(
            db.session, current_user, release, data, upload.filename if upload else "", form.caption.data or "",
            current_app.config["UPLOAD_DIR"], int(current_app.config["UPLOAD_MAX_BYTES"]),
            int(current_app.config["UPLOAD_RENDITION_PX"]),
        )
    except ValidationFailed as exc:
        db.session.rollback()
        # "file" belongs to no form field: its message goes to the summary at the top of the page.
        return _release_page(release, 400, apply_reasons(form, exc.reasons), upload=form)
    except PortalError as exc:
        db.session.rollback()
        return _release_page(release, exc.status_code, [exc.message], upload=form)
    return redirect(url_for("staff.press_release", release_id=release.id), 303)


@bp.post("/press/releases/<int:release_id>/withdraw")
@roles_required(*PUBLISHERS)
def press_withdraw(release_id: int):
    """Withdraw a release (reason and confirmation required): its page stays, marked 已撤回 with the reason."""
    release = _get(Release, release_id)
    form = ReleaseWithdrawForm()
    if not form.validate():
        return _release_page(release, 400, withdraw=form)
    try:
        newsroom.withdraw_release(db.session, current_user, release, form.reason.data or "")
    except ValidationFailed as exc:
        db.session.rollback()
        return _release_page(release, 400, apply_reasons(form, exc.reasons), withdraw=form)
    except PortalError as exc:
        db.session.rollback()
        return _release_page(release, exc.status_code, [exc.message], withdraw=form)
    return redirect(url_for("staff.press_release", release_id=release.id), 303)


@bp.post("/press/releases/<int:release_id>/attachments/<int:attachment_id>/remove")
@roles_required(*PUBLISHERS)
def press_remove_attachment(release_id: int, attachment_id: int):
    """Remove one attachment (confirmation required): the file is deleted and its URL answers 410 Gone."""
    release = _get(Release, release_id)
    attachment = _get(Attachment, attachment_id)
    if attachment.release_id != release.id:
        abort(404)
    form = AttachmentRemoveForm(prefix=f"a{attachment.id}")
    if not form.validate():
        return _release_page(release, 400, remove=form)
    try:
        newsroom.remove_attachment(db.session, current_user, attachment, current_app.config["UPLOAD_DIR"])
    except PortalError as exc:
        db.session.rollback()
        return _release_page(release, exc.status_code, [exc.message])
    return redirect(url_for("staff.press_release", release_id=release.id), 303)
