"""The office's desk: filtered queue with bulk routing, the clock, notices, and the per-question desk actions
(co-departments, notes, duplicate merge, sending back, major items) and reply templates."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.errors import Forbidden, NotFound, PortalError, ValidationFailed
from portal.extensions import db
from portal.models import Question, ReplyTemplate
from portal.models.question import CATEGORIES, STATUS_LABELS
from portal.models.staff import ROLE_OFFICE, ROLE_RESPONDER
from portal.numbers import parse_positive_int
from portal.services.board import listing
from portal.services.board.questions import can_handle
from portal.services.desk import notices, routing
from portal.views.common import apply_reasons, roles_required
from portal.views.forms import CsrfForm, options
from portal.views.staff import _render_question, bp, load_question
from portal.views.staff.desk.forms import MergeForm, NoteForm, ReturnForm, TemplateForm

HANDLERS = (ROLE_OFFICE, ROLE_RESPONDER)


def _ids(values: list[str]) -> list[int]:
    out = []
    for raw in values[: routing.BULK_MAX + 1]:
        value = parse_positive_int(raw, 10**9)
        if value is not None:
            out.append(value)
    return out


def _dept_options(blank: str | None = None):
    pairs = [(str(d.id), d.name) for d in listing.departments(db.session)]
    return options(([("", blank)] if blank is not None else []) + pairs)


def question_context(question: Question, user) -> dict:
    """What the question page needs from the desk: notes, templates, the desk's forms."""
    dept_id = question.department_id if user.role == ROLE_RESPONDER else None
    return {
        "note_form": NoteForm(formdata=None),
        "merge_form": MergeForm(formdata=None),
        "return_form": ReturnForm(formdata=None),
        "major_form": CsrfForm(formdata=None),
        "notes": routing.notes_for(db.session, question),
        "templates": routing.templates_for(db.session, dept_id or question.department_id),
        "merged_count": routing.duplicates_of(db.session, question),
        "may_handle": can_handle(user, question),
    }


def _back(question: Question):
    return redirect(url_for("staff.question", question_id=question.id), 303)


def _fail(question: Question, exc: PortalError, form=None):
    db.session.rollback()
    errors = apply_reasons(form, exc.reasons) if form is not None and isinstance(exc, ValidationFailed) else []
    if not errors and not isinstance(exc, ValidationFailed):
        errors = [exc.message]
    if isinstance(exc, ValidationFailed) and form is None:
        errors = list(exc.reasons.values())
    return _render_question(question, exc.status_code, errors=errors or [exc.message])


# ---- the desk queue -------------------------------------------------------------------------------------


def _filter_choices() -> dict:
    return {
        "statuses": [("open", "全部未办结")] + list(STATUS_LABELS.items()),
        "departments": listing.departments(db.session),
        "categories": CATEGORIES,
        "due_choices": routing.DUE_CHOICES,
    }


@bp.get("/desk")
@roles_required(ROLE_OFFICE)
def desk_queue():
    """The office's queue with filters, bulk routing and bulk major marking."""
    try:
        filters = routing.parse_queue_filters(db.session, request.args)
    except ValidationFailed as exc:
        raw = {k: str(request.args.get(k, ""))[:100] for k in ("status", "department", "category", "due", "q")}
        return render_template("staff/desk/queue.html", queue=[], filters=None, raw=raw,
                               errors=list(exc.reasons.values()), form=CsrfForm(formdata=None),
                               **_filter_choices()), 400
    queue = routing.office_queue(db.session, filters, int(current_app.config["DUE_SOON_HOURS"]))
    return render_template("staff/desk/queue.html", queue=queue, filters=filters, raw=filters.raw, errors=[],
                           form=CsrfForm(formdata=None), **_filter_choices())


@bp.post("/desk/bulk")
@roles_required(ROLE_OFFICE)
def desk_bulk():
    """Route the ticked questions to one department, or mark them as major items."""
    if not CsrfForm().validate():
        abort(400)
    ids = _ids(request.form.getlist("ids"))
    try:
        if request.form.get("action") == "major":
            questions = [q for q in (db.session.get(Question, i) for i in ids) if q is not None]
            if not questions:
                raise ValidationFailed({"ids": "请先勾选留言。"})
            changed = routing.set_major(db.session, current_user, questions, True, "批量标记")
            flash(f"已标记 {changed} 条为重大舆情。", "info")
        else:
            dept_id = parse_positive_int(request.form.get("department", ""), 10**9)
            done, problems = routing.bulk_route(db.session, current_user, ids, dept_id, current_app.config)
            flash(f"已分办 {done} 条。" + (" 未分办：" + "；".join(problems) if problems else ""), "info")
    except PortalError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("staff.desk_queue"), 303)


@bp.get("/clock")
@roles_required(*HANDLERS)
def clock():
    """Overdue and due-soon questions on the user's desk."""
    overdue, soon = routing.clock_view(db.session, current_user, int(current_app.config["DUE_SOON_HOURS"]))
    return render_template("staff/desk/clock.html", overdue=overdue, soon=soon)


@bp.get("/notices")
@roles_required(*HANDLERS)
def notice_list():
    """Notices to the user's desk (routed, overdue, returned), newest first."""
    rows = notices.for_user(db.session, current_user, unread_only=False, limit=200)
    return render_template("staff/desk/notices.html", notices=rows, form=CsrfForm(formdata=None))


@bp.post("/notices/read")
@roles_required(*HANDLERS)
def notices_read():
    """Mark every notice on the user's desk as read."""
    if not CsrfForm().validate():
        abort(400)
    notices.mark_read(db.session, current_user)
    return redirect(url_for("staff.notice_list"), 303)


# ---- per-question desk actions --------------------------------------------------------------------------


@bp.post("/questions/<int:question_id>/note")
@roles_required(*HANDLERS)
def add_note(question_id: int):
    """Add an internal note (never public); co-departments may add theirs too."""
    q = load_question(question_id, reading=True)
    form = NoteForm()
    if not form.validate():
        return _render_question(q, 400, errors=[e for errs in form.errors.values() for e in errs])
    try:
        routing.add_note(db.session, current_user, q, form.body.data or "")
    except PortalError as exc:
        return _fail(q, exc)
    return _back(q)


@bp.post("/questions/<int:question_id>/merge")
@roles_required(ROLE_OFFICE)
def merge(question_id: int):
    """Close the question as a duplicate of an earlier answered one."""
    q = load_question(question_id)
    form = MergeForm()
    if not form.validate():
        return _render_question(q, 400, errors=[e for errs in form.errors.values() for e in errs])
    try:
        routing.merge_duplicate(db.session, current_user, q, form.original.data or "")
    except PortalError as exc:
        return _fail(q, exc)
    return _back(q)


@bp.post("/questions/<int:question_id>/return")
@roles_required(ROLE_RESPONDER)
def send_back(question_id: int):
    """The lead department sends the question back to the office with a reason."""
    q = load_question(question_id)
    form = ReturnForm()
    if not form.validate():
        return _render_question(q, 400, errors=[e for errs in form.errors.values() for e in errs])
    try:
        routing.send_back(db.session, current_user, q, form.reason.data or "")
    except PortalError as exc:
        return _fail(q, exc)
    flash(f"已将留言 {q.number} 退回办公室。", "info")
    return redirect(url_for("staff.index"), 303)


@bp.post("/questions/<int:question_id>/major")
@roles_required(ROLE_OFFICE)
def toggle_major(question_id: int):
    """Mark or unmark the question as a major item."""
    q = load_question(question_id)
    if not CsrfForm().validate():
        abort(400)
    try:
        routing.set_major(db.session, current_user, [q], not q.is_major)
    except PortalError as exc:
        return _fail(q, exc)
    return _back(q)


# ---- reply templates ------------------------------------------------------------------------------------


def _template_form(formdata=None) -> TemplateForm:
    form = TemplateForm() if formdata else TemplateForm(formdata=None)
    if current_user.role == ROLE_OFFICE:
        form.department.choices = _dept_options("通用（办公室）")
    else:
        dept = current_user.department
        form.department.choices = options([(str(dept.id), dept.name)] if dept else [])
    return form


@bp.route("/templates", methods=["GET", "POST"])
@roles_required(*HANDLERS)
def templates():
    """Reply templates: the office's general ones and each department's."""
    form = _template_form(request.form if request.method == "POST" else None)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        if form.validate():
            dept_id = parse_positive_int(form.department.data or "", 10**9)
            if current_user.role == ROLE_RESPONDER:
                dept_id = current_user.department_id
            try:
                routing.save_template(db.session, current_user, None, dept_id, form.title.data or "",
                                   form.body.data or "")
            except ValidationFailed as exc:
                db.session.rollback()
                errors, status = apply_reasons(form, exc.reasons), 400
            except PortalError as exc:
                db.session.rollback()
                errors, status = [exc.message], exc.status_code
            else:
                return redirect(url_for("staff.templates"), 303)
        else:
            status = 400
    dept_id = current_user.department_id if current_user.role == ROLE_RESPONDER else None
    rows = routing.templates_for(db.session, dept_id) if dept_id else (
        list(db.session.scalars(db.select(ReplyTemplate).order_by(ReplyTemplate.department_id, ReplyTemplate.title)))
    )
    return render_template("staff/desk/templates.html", form=form, rows=rows, errors=errors,
                           delete_form=CsrfForm(formdata=None)), status


@bp.post("/templates/<int:template_id>/delete")
@roles_required(*HANDLERS)
def template_delete(template_id: int):
    """Remove a reply template."""
    if not CsrfForm().validate():
        abort(400)
    try:
        routing.delete_template(db.session, current_user, template_id)
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)
    return redirect(url_for("staff.templates"), 303)
