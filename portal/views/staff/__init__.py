"""The staff console: queues, handling a question, and the admin's read-only views."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.errors import Forbidden, NotFound, PortalError, ValidationFailed
from portal.extensions import db
from portal.markup import render_markdown
from portal.models import AuditEntry, Question, StaffUser
from portal.models.question import REJECT_REASONS
from portal.models.staff import ROLE_ADMIN, ROLE_OFFICE, ROLE_RESPONDER, ROLES
from portal.numbers import parse_positive_int
from portal.services.board import listing
from portal.services.board.questions import (
    get_for_staff,
    hide_question,
    may_publish,
    publish_reply,
    reject_question,
    save_reply,
    unhide_question,
)
from portal.services.desk import routing as desk_service
from portal.text import fold_width
from portal.timeutil import utcnow
from portal.views.common import apply_reasons, roles_required
from portal.views.forms import HideForm, LogoutForm, PublishForm, RejectForm, ReplyForm, RouteForm, options

bp = Blueprint("staff", __name__, url_prefix="/staff")

ALL_ROLES = tuple(ROLES)
HANDLERS = (ROLE_OFFICE, ROLE_RESPONDER)

REPLY_TEMPLATE = (
    "网友您好：\n\n您反映的问题，经我单位核实，现答复如下：\n\n（答复内容）\n\n感谢您对我们工作的关注和支持。"
)


@bp.after_request
def no_store(response):
    """Console pages are private to the signed-in user: never cached anywhere."""
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.context_processor
def console_globals():
    return {"logout_form": LogoutForm(), "now": utcnow(), "due_soon_hours": current_app.config["DUE_SOON_HOURS"]}


@bp.get("/")
@roles_required(*ALL_ROLES)
def index():
    """The signed-in user's queue, soonest due first; overdue items stand out."""
    from portal.services.bulletins.bulletin_read import list_incidents
    from portal.services.desk import notices

    queue = listing.staff_queue(db.session, current_user)
    unread = notices.for_user(db.session, current_user, unread_only=True, limit=20)
    incidents = list_incidents(db.session) if current_user.role == "spokesperson" else []
    return render_template("staff/index.html", queue=queue, notices=unread, incidents=incidents)


def load_question(question_id: int, reading: bool = False) -> Question:
    """The question as the signed-in staff member may see it: 404 when there is none, 403 when not theirs."""
    try:
        return get_for_staff(db.session, current_user, question_id, reading=reading)
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)


def _forms(question: Question, reply_form: ReplyForm | None = None):
    route_form = RouteForm(formdata=None)
    route_form.department.choices = options(
        [("", "请选择")] + [(str(d.id), d.name) for d in listing.departments(db.session)]
    )
    route_form.co_departments.choices = options((str(d.id), d.name) for d in listing.departments(db.session))
    route_form.co_departments.data = [str(d.id) for d in question.co_departments]
    if question.department_id:
        route_form.department.data = str(question.department_id)
    if reply_form is None:
        body = question.reply.body_md if question.reply else REPLY_TEMPLATE
        chosen = parse_positive_int(request.args.get("template", ""), 10**9)
        if chosen:
            from portal.services.desk.routing import templates_for

            found = [t for t in templates_for(db.session, question.department_id) if t.id == chosen]
            body = found[0].body if found else body
        reply_form = ReplyForm(formdata=None, body=body)
    return {
        "route_form": route_form,
        "reject_form": RejectForm(formdata=None),
        "reply_form": reply_form,
        "publish_form": PublishForm(formdata=None),
        "hide_form": HideForm(formdata=None),
    }


def _render_question(question: Question, status: int = 200, errors=None, preview=None, **overrides):
    from portal.views.staff.desk.handling import handling_context
    from portal.views.staff.desk.queue import question_context

    forms = _forms(question, overrides.pop("reply_form", None))
    forms.update(question_context(question, current_user))
    forms.update(handling_context(question, current_user))
    forms.update(overrides)
    history = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.subject_type == "question", AuditEntry.subject_id == question.id)
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()
    return (
        render_template(
            "staff/question.html", q=question, errors=errors or [], preview=preview, history=history,
            reject_reasons=REJECT_REASONS, **forms,
        ),
        status,
    )


@bp.get("/questions/<int:question_id>")
@roles_required(*HANDLERS)
def question(question_id: int):
    """One question with its history and the actions the user may take (co-departments may read it)."""
    return _render_question(load_question(question_id, reading=True))


@bp.post("/questions/<int:question_id>/route")
@roles_required(ROLE_OFFICE)
def route(question_id: int):
    """The office sends the question to a lead department (and co-departments); they are notified."""
    q = load_question(question_id)
    form = RouteForm()
    form.department.choices = options((str(d.id), d.name) for d in listing.departments(db.session))
    form.co_departments.choices = options((str(d.id), d.name) for d in listing.departments(db.session))
    if not form.validate():
        return _render_question(q, 400, route_form=form)
    raw = form.department.data or ""
    co = [i for i in (parse_positive_int(v, 10**9) for v in (form.co_departments.data or [])[:50]) if i]
    try:
        desk_service.route(
            db.session, current_user, q, parse_positive_int(raw, 10**9), form.note.data or "", current_app.config, co
        )
    except ValidationFailed as exc:
        db.session.rollback()
        return _render_question(q, 400, errors=apply_reasons(form, exc.reasons), route_form=form)
    except PortalError as exc:
        db.session.rollback()
        return _render_question(q, exc.status_code, errors=[exc.message])
    return redirect(url_for("staff.question", question_id=q.id), 303)


@bp.post("/questions/<int:question_id>/reject")
@roles_required(ROLE_OFFICE)
def reject(question_id: int):
    """The office refuses the question with a reason kept on record."""
    q = load_question(question_id)
    form = RejectForm()
    if not form.validate():
        return _render_question(q, 400, reject_form=form)
    try:
        reject_question(db.session, current_user, q, form.reason.data or "", form.note.data or "")
    except ValidationFailed as exc:
        db.session.rollback()
        return _render_question(q, 400, errors=apply_reasons(form, exc.reasons), reject_form=form)
    except PortalError as exc:
        db.session.rollback()
        return _render_question(q, exc.status_code, errors=[exc.message])
    return redirect(url_for("staff.index"), 303)


@bp.post("/questions/<int:question_id>/reply")
@roles_required(*HANDLERS)
def reply(question_id: int):
    """Preview, save, save and submit for review (审核), or save and publish the reply."""
    from portal.services.desk.review import submit_reply

    q = load_question(question_id)
    form = ReplyForm()
    if not form.validate():
        return _render_question(q, 400, reply_form=form)
    if form.preview.data:
        return _render_question(q, reply_form=form, preview=render_markdown(form.body.data or ""))
    review = bool(current_app.config["REPLY_REVIEW"])
    if form.publish.data and not may_publish(current_user, review):
        return _render_question(q, 403, errors=["答复须经办公室审核后才能发布，请点击“提交审核”。"], reply_form=form)
    try:
        save_reply(db.session, current_user, q, form.body.data or "")
        if form.publish.data:
            publish_reply(db.session, current_user, q, review=review)
        elif form.submit_review.data:
            submit_reply(db.session, current_user, q)
    except ValidationFailed as exc:
        db.session.rollback()
        return _render_question(q, 400, errors=apply_reasons(form, exc.reasons), reply_form=form)
    except PortalError as exc:
        db.session.rollback()
        return _render_question(q, exc.status_code, errors=[exc.message], reply_form=form)
    return redirect(url_for("staff.question", question_id=q.id), 303)


@bp.post("/questions/<int:question_id>/publish")
@roles_required(*HANDLERS)
def publish(question_id: int):
    """Publish the saved reply: the question appears on the board."""
    q = load_question(question_id)
    form = PublishForm()
    if not form.validate():
        return _render_question(q, 400, errors=["表单已过期，请重试。"])
    try:
        publish_reply(db.session, current_user, q, review=bool(current_app.config["REPLY_REVIEW"]))
    except PortalError as exc:
        db.session.rollback()
        return _render_question(q, exc.status_code, errors=[exc.message])
    return redirect(url_for("staff.question", question_id=q.id), 303)


@bp.get("/users")
@roles_required(ROLE_ADMIN)
def users():
    """Staff accounts and their departments (备案)."""
    rows = db.session.scalars(select(StaffUser).order_by(StaffUser.role, StaffUser.username)).all()
    return render_template("staff/users.html", users=rows, roles=ROLES)


@bp.get("/audit")
@roles_required(ROLE_ADMIN)
def audit_log():
    """The audit log, newest first (read-only)."""
    page = request.args.get("page", "1")
    page_no = parse_positive_int(page, 99999) or 1
    actor = fold_width(request.args.get("actor", ""))[:64]  # a user name, perhaps typed full-width
    action = request.args.get("action", "").strip()[:40]
    subject = request.args.get("subject", "").strip()[:20]
    stmt = select(AuditEntry)
    if actor:
        stmt = stmt.where(AuditEntry.actor_name == actor)
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True))
    if subject:
        stmt = stmt.where(AuditEntry.subject_type == subject)
    rows = db.session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(100).offset((page_no - 1) * 100)).all()
    return render_template(
        "staff/audit.html", entries=rows, page_no=page_no, actor=actor, action=action, subject=subject
    )


@bp.post("/questions/<int:question_id>/hide")
@roles_required(ROLE_OFFICE)
def hide(question_id: int):
    """Take a published question off the board and out of search (the reason stays on record)."""
    q = load_question(question_id)
    form = HideForm()
    if not form.validate():
        return _render_question(q, 400, hide_form=form)
    try:
        hide_question(db.session, current_user, q, form.reason.data or "")
    except ValidationFailed as exc:
        db.session.rollback()
        return _render_question(q, 400, errors=apply_reasons(form, exc.reasons), hide_form=form)
    except PortalError as exc:
        db.session.rollback()
        return _render_question(q, exc.status_code, errors=[exc.message])
    return redirect(url_for("staff.question", question_id=q.id), 303)


@bp.post("/questions/<int:question_id>/unhide")
@roles_required(ROLE_OFFICE)
def unhide(question_id: int):
    """Put a hidden question back on the board."""
    q = load_question(question_id)
    if not PublishForm().validate():
        return _render_question(q, 400, errors=["表单已过期，请重试。"])
    try:
        unhide_question(db.session, current_user, q)
    except PortalError as exc:
        db.session.rollback()
        return _render_question(q, exc.status_code, errors=[exc.message])
    return redirect(url_for("staff.question", question_id=q.id), 303)


# The desk, ledger, memos and accounts pages register their routes on this blueprint.
from portal.views.staff import accounts, audit_text, departments  # noqa: E402, F401
from portal.views.staff.desk import exports, handling, ledger, memos  # noqa: E402, F401
from portal.views.staff.desk import queue as _queue  # noqa: E402, F401


@bp.get("/reports")
@roles_required(ROLE_OFFICE)
def reports():
    """Items citizens reported; those hidden by reports wait here for review (restore from the question page)."""
    from portal.services.board.reports import reported_items

    return render_template("staff/reports.html", items=reported_items(db.session))
