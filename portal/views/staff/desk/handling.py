"""The question page's review and handling-in-steps actions: submit for review, return with a comment, interim
replies, extensions and their approval, send-back after 不满意 (重办), supplementary replies, co-departments'
opinions."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, url_for
from flask_login import current_user

from portal.errors import PortalError, ValidationFailed
from portal.extensions import db
from portal.models import Question
from portal.models.staff import ROLE_OFFICE, ROLE_RESPONDER
from portal.numbers import parse_positive_int
from portal.services.board.questions import can_handle, may_publish
from portal.services.clock import rule_from_config
from portal.services.desk import handling, review
from portal.views.common import apply_reasons, roles_required
from portal.views.forms import CsrfForm
from portal.views.staff import _render_question, bp, load_question
from portal.views.staff.desk.forms import (
    ExtensionDecisionForm,
    ExtensionForm,
    InterimForm,
    OpinionForm,
    RedoForm,
    ReviewReturnForm,
    StepReviewForm,
    SupplementForm,
)

HANDLERS = (ROLE_OFFICE, ROLE_RESPONDER)


def handling_context(question: Question, user) -> dict:
    """What the question page needs for review and the handling steps."""
    review_on = bool(current_app.config["REPLY_REVIEW"])
    return {
        "review_on": review_on,
        "may_publish": may_publish(user, review_on),
        "is_co_department": handling.is_co_department(user, question),
        "may_redo": review.may_redo(question) and user.role == ROLE_OFFICE,
        "steps": handling.steps_for(db.session, question),
        "extensions": handling.extensions_for(db.session, question),
        "pending_extension": handling.pending_extension(db.session, question),
        "handling_states": handling.HANDLING_STATES,
        "submit_form": CsrfForm(formdata=None),
        "review_form": ReviewReturnForm(formdata=None),
        "interim_form": InterimForm(formdata=None),
        "extension_form": ExtensionForm(formdata=None),
        "decision_form": ExtensionDecisionForm(formdata=None),
        "redo_form": RedoForm(formdata=None),
        "supplement_form": SupplementForm(formdata=None),
        "opinion_form": OpinionForm(formdata=None),
        "step_review_form": StepReviewForm(formdata=None),
        "pending_supplement": any(s.kind == "supplement" for s in handling.pending_steps(db.session, question)),
    }


def _review() -> bool:
    return bool(current_app.config["REPLY_REVIEW"])


def _done(what: str) -> str:
    held = handling.held_for_review(current_user, _review())
    return f"{what}已提交办公室审核，审核通过后公开。" if held else f"{what}已公开。"


def _back(question: Question):
    return redirect(url_for("staff.question", question_id=question.id), 303)


def _act(question: Question, form, form_name: str, action, done: str | None = None):
    """Validate `form`, run `action()`, and re-render the page with the form and the messages on failure."""
    if not form.validate():
        return _render_question(question, 400, **{form_name: form})
    try:
        action()
    except ValidationFailed as exc:
        db.session.rollback()
        return _render_question(question, 400, errors=apply_reasons(form, exc.reasons), **{form_name: form})
    except PortalError as exc:
        db.session.rollback()
        return _render_question(question, exc.status_code, errors=[exc.message], **{form_name: form})
    if done:
        flash(done, "info")
    return _back(question)


# ---- review (审核) --------------------------------------------------------------------------------------


@bp.post("/questions/<int:question_id>/submit")
@roles_required(ROLE_RESPONDER)
def submit_reply(question_id: int):
    """The responder sends the saved draft to the office for review."""
    q = load_question(question_id)
    return _act(q, CsrfForm(), "submit_form", lambda: review.submit_reply(db.session, current_user, q),
                "答复已提交办公室审核。")


@bp.post("/questions/<int:question_id>/review/return")
@roles_required(ROLE_OFFICE)
def return_reply(question_id: int):
    """The office returns a submitted reply to the department with a comment."""
    q = load_question(question_id)
    form = ReviewReturnForm()
    return _act(q, form, "review_form",
                lambda: review.return_reply(db.session, current_user, q, form.comment.data or ""),
                "答复已退回部门修改。")


@bp.post("/questions/<int:question_id>/steps/review")
@roles_required(ROLE_OFFICE)
def review_step(question_id: int):
    """The office publishes a responder's interim or supplementary reply, or returns it with a comment."""
    q = load_question(question_id)
    form = StepReviewForm()
    step_id = parse_positive_int(form.step.data or "", 10**9)
    if form.return_step.data:
        return _act(q, form, "step_review_form",
                    lambda: review.return_step(db.session, current_user, q, step_id, form.comment.data or ""),
                    "已退回部门修改。")
    return _act(q, form, "step_review_form", lambda: review.publish_step(db.session, current_user, q, step_id),
                "已审核通过并公开。")


# ---- interim replies and extensions ---------------------------------------------------------------------


@bp.post("/questions/<int:question_id>/interim")
@roles_required(*HANDLERS)
def interim(question_id: int):
    """Tell the citizen how handling is going (阶段性答复)."""
    q = load_question(question_id)
    form = InterimForm()
    return _act(q, form, "interim_form",
                lambda: handling.add_interim(db.session, current_user, q, form.body.data or "", _review()),
                _done("阶段性答复"))


@bp.post("/questions/<int:question_id>/extension")
@roles_required(*HANDLERS)
def request_extension(question_id: int):
    """Ask to move the due time by working days, with a reason the citizen will see."""
    q = load_question(question_id)
    form = ExtensionForm()

    def action():
        days = parse_positive_int(form.days.data or "", 999)
        handling.request_extension(db.session, current_user, q, days, form.reason.data or "",
                                   rule_from_config(current_app.config))

    return _act(q, form, "extension_form", action,
                "已延期。" if current_user.role == ROLE_OFFICE else "延期申请已提交办公室审批。")


@bp.post("/questions/<int:question_id>/extension/decide")
@roles_required(ROLE_OFFICE)
def decide_extension(question_id: int):
    """The office approves or refuses the pending extension."""
    q = load_question(question_id)
    form = ExtensionDecisionForm()
    approve = bool(form.approve.data) and not form.refuse.data
    return _act(q, form, "decision_form",
                lambda: handling.decide_extension(db.session, current_user, q, approve, form.note.data or "",
                                                  rule_from_config(current_app.config)),
                "已批准延期。" if approve else "已不批准延期。")


# ---- after the reply: send-back (重办), supplementary replies -------------------------------------------


@bp.post("/questions/<int:question_id>/redo")
@roles_required(ROLE_OFFICE)
def redo(question_id: int):
    """Send a 不满意 question back to its department with the citizen's comment."""
    q = load_question(question_id)
    form = RedoForm()
    return _act(q, form, "redo_form",
                lambda: review.send_back_for_redo(db.session, current_user, q, form.note.data or ""),
                "已要求承办部门重新办理。")


@bp.post("/questions/<int:question_id>/supplement")
@roles_required(*HANDLERS)
def supplement(question_id: int):
    """Answer the follow-up or the send-back in the same thread."""
    q = load_question(question_id)
    if not can_handle(current_user, q):
        abort(403)
    form = SupplementForm()
    return _act(q, form, "supplement_form",
                lambda: handling.add_supplement(db.session, current_user, q, form.body.data or "", _review()),
                _done("补充答复"))


# ---- co-departments -------------------------------------------------------------------------------------


@bp.post("/questions/<int:question_id>/opinion")
@roles_required(ROLE_RESPONDER)
def opinion(question_id: int):
    """A co-department's opinion for the lead department (协办意见)."""
    q = load_question(question_id, reading=True)
    form = OpinionForm()
    return _act(q, form, "opinion_form",
                lambda: handling.add_opinion(db.session, current_user, q, form.body.data or ""),
                "协办意见已提交，牵头部门可以看到。")
