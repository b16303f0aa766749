"""Large ledger exports in the background: start one (POST), follow its progress (page and JSON), download it."""

from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from portal.errors import NotFound, ValidationFailed
from portal.extensions import db
from portal.models.export import ExportJob
from portal.services.desk import exports, ledger
from portal.views.common import roles_required
from portal.views.forms import CsrfForm
from portal.views.staff import bp
from portal.views.staff.desk.ledger import LEDGER_ROLES, invalid_filters

# werkzeug adds "; charset=utf-8" to a text/* mimetype.
MIMETYPES = {"csv": "text/csv",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
# How often the progress page reloads itself when JavaScript is off (seconds).
REFRESH_SECONDS = 2


def _job(job_id: int) -> ExportJob:
    try:
        return exports.get_own(db.session, current_user, job_id)
    except NotFound:
        abort(404)


@bp.post("/ledger/exports")
@roles_required(*LEDGER_ROLES)
def export_start():
    """Start a background export of the filtered ledger and go to its progress page."""
    if not CsrfForm().validate():
        abort(400)
    try:
        filters = ledger.parse_ledger_filters(db.session, request.form)
        job, created = exports.start(db.session, current_user, filters, request.form.get("format", ""),
                                     int(current_app.config["EXPORT_MAX_ROWS"]))
    except ValidationFailed as exc:
        db.session.rollback()
        return invalid_filters(exc, request.form)
    db.session.commit()  # the worker (portal/jobs.py) picks the queued job up
    if not created:
        flash("您已有一个导出任务正在进行，请等它完成后再导出。", "info")
    return redirect(url_for("staff.export_progress", job_id=job.id), 303)


@bp.get("/ledger/exports/<int:job_id>")
@roles_required(*LEDGER_ROLES)
def export_progress(job_id: int):
    """The job's progress (rows written of the total, a progress bar) and, once done, the download link; it
    reloads itself every few seconds without JavaScript, and its script polls the JSON status instead."""
    job = _job(job_id)
    return render_template(
        "staff/desk/export.html", job=job, refresh=REFRESH_SECONDS,
        message=exports.message(job, int(current_app.config["EXPORT_KEEP_HOURS"])),
        filters=exports.describe_filters(db.session, job),
    )


@bp.get("/ledger/exports/<int:job_id>.json")
@roles_required(*LEDGER_ROLES)
def export_status(job_id: int):
    """The job's progress as JSON, for the progress page's script (polled about once a second)."""
    job = _job(job_id)
    body = exports.status(job, int(current_app.config["EXPORT_KEEP_HOURS"]))
    body["download_url"] = url_for("staff.export_download", job_id=job.id) if body["done"] else None
    return jsonify(body)


@bp.get("/ledger/exports/<int:job_id>/download")
@roles_required(*LEDGER_ROLES)
def export_download(job_id: int):
    """The finished file, to the member of staff who asked for it."""
    job = _job(job_id)
    try:
        path = exports.file_path(job, Path(current_app.config["EXPORT_DIR"]))
    except NotFound as exc:
        return render_template("errors/error.html", code=404, title="文件不可用", message=exc.message), 404
    return send_file(path, as_attachment=True, download_name=job.download_name, mimetype=MIMETYPES[job.format])
