"""Review before publication (审核): a responder's reply goes to the office, which publishes it or returns it
with a comment; and what a 不满意 rating sets off (the office is told; it may send the question back, 重办)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import Forbidden, InvalidTransition, ValidationFailed
from portal.models import Question, QuestionStep, StaffUser
from portal.models.desk import NOTICE_FOLLOWUP, NOTICE_REVIEW, NOTICE_REVIEWED, NOTICE_UNSATISFIED
from portal.models.handling import STEP_REDO, STEP_SUPPLEMENT
from portal.models.question import ANSWERED, PUBLISHED, RATINGS, REOPEN_REDO, REVIEW
from portal.models.staff import ROLE_OFFICE, ROLE_RESPONDER
from portal.services import audit
from portal.services.board import questions as question_service
from portal.services.desk import notices
from portal.services.desk.handling import REVIEWED_STEPS, settle_reopened, steps_for
from portal.timeutil import utcnow

REVIEW_NOTE_MIN, REVIEW_NOTE_MAX = 2, 1000
UNSATISFIED = "unsatisfied"


def submit_reply(session: Session, actor: StaffUser, question: Question) -> Question:
    """The responder sends the saved draft to the office for review; the office is told on its desk."""
    if actor.role != ROLE_RESPONDER or not question_service.can_handle(actor, question):
        raise Forbidden("只有承办部门可以提交答复审核。")
    if question.reply is None or question.status != ANSWERED:
        raise InvalidTransition("请先保存答复，再提交审核。")
    now = utcnow()
    question.reply.submitted_at = now
    question.status = REVIEW
    dept = question.department.name if question.department else ""
    notices.add_notice(session, None, question, NOTICE_REVIEW,
                       f"{dept}提交了留言 {question.number}“{question.title}”的答复，请审核后发布或退回修改。")
    audit.record(session, actor, "reply.submitted", "question", question.id, department=dept)
    session.commit()
    return question


def return_reply(session: Session, actor: StaffUser, question: Question, comment: str) -> Question:
    """The office returns a submitted reply to the department with a comment; the department is told."""
    if actor.role != ROLE_OFFICE:
        raise Forbidden("只有办公室可以审核答复。")
    if question.status != REVIEW or question.reply is None:
        raise InvalidTransition("只有待审核的答复可以退回修改。")
    comment = door.clean_line(comment or "")
    if door.visible_length(comment) < REVIEW_NOTE_MIN or len(comment) > REVIEW_NOTE_MAX:
        raise ValidationFailed({"comment": f"请填写退回修改的意见（{REVIEW_NOTE_MIN}-{REVIEW_NOTE_MAX} 个字）。"})
    question.reply.review_note = comment
    question.status = ANSWERED
    notices.add_notice(session, question.department_id, question, NOTICE_REVIEWED,
                       f"办公室退回了留言 {question.number}“{question.title}”的答复，请修改后重新提交：{comment}")
    audit.record(session, actor, "reply.returned", "question", question.id, comment=comment)
    session.commit()
    return question


def rate(session: Session, question: Question, rating: str, comment: str) -> Question:
    """The citizen's rating; a 不满意 is put on the office's desk in the same transaction."""
    if rating == UNSATISFIED and question.status == PUBLISHED and not question.rating:
        text = door.clean_line(comment or "")
        notices.add_notice(session, None, question, NOTICE_UNSATISFIED,
                           f"网友对留言 {question.number}“{question.title}”的答复评价为“{RATINGS[UNSATISFIED]}”"
                           + (f"：{text[:200]}" if text else "。") + " 可要求承办部门重新办理。")
    return question_service.rate_reply(session, question, rating, comment)  # validates and commits


def may_redo(question: Question) -> bool:
    """A published reply rated 不满意, by a department, not already reopened or sent back once."""
    return (
        question.status == PUBLISHED
        and question.rating == UNSATISFIED
        and question.reopen_kind is None
        and question.department_id is not None
    )


def send_back_for_redo(session: Session, actor: StaffUser, question: Question, note: str) -> QuestionStep:
    """The office sends a 不满意 question back to its department (重办) with the citizen's comment."""
    if actor.role != ROLE_OFFICE:
        raise Forbidden("只有办公室可以要求重新办理。")
    if not may_redo(question):
        raise InvalidTransition("只有网友评价为“不满意”、由部门答复的留言可以要求重新办理（每次评价一次）。")
    if any(s.kind == STEP_REDO for s in steps_for(session, question)):
        raise InvalidTransition("这条留言已经重新办理过一次。")
    note = door.clean_line(note or "")
    if len(note) > REVIEW_NOTE_MAX:
        raise ValidationFailed({"note": f"办公室意见不超过 {REVIEW_NOTE_MAX} 个字。"})
    citizen = question.rating_comment or "（网友未填写意见）"
    body = f"网友评价：不满意。网友意见：{citizen}" + (f"\n办公室意见：{note}" if note else "")
    now = utcnow()
    step = QuestionStep(question_id=question.id, kind=STEP_REDO, department_id=None, author_id=actor.id,
                        body=body, created_at=now, published_at=now)
    session.add(step)
    question.reopen_kind = REOPEN_REDO
    question.reopened_at = now
    notices.add_notice(session, question.department_id, question, NOTICE_FOLLOWUP,
                       f"办公室要求重新办理留言 {question.number}“{question.title}”，请作补充答复。{body}")
    session.flush()
    audit.record(session, actor, "question.redo", "question", question.id, step_id=step.id, note=note)
    session.commit()
    return step



# ---- review of interim and supplementary replies --------------------------------------------------------


def _pending_step(session: Session, actor: StaffUser, question: Question, step_id: int | None) -> QuestionStep:
    if actor.role != ROLE_OFFICE:
        raise Forbidden("只有办公室可以审核。")
    step = session.get(QuestionStep, step_id) if step_id else None
    if step is None or step.question_id != question.id or step.kind not in REVIEWED_STEPS:
        raise ValidationFailed({"step": "请选择要审核的阶段性答复或补充答复。"})
    if not step.is_pending:
        raise InvalidTransition("这条内容已经审核过了。")
    return step


def publish_step(session: Session, actor: StaffUser, question: Question, step_id: int | None) -> QuestionStep:
    """The office publishes a responder's interim or supplementary reply (a supplement settles the question)."""
    step = _pending_step(session, actor, question, step_id)
    if step.kind == STEP_SUPPLEMENT and (question.status != PUBLISHED or question.reopen_kind is None):
        raise InvalidTransition("这条留言已不需要补充答复。")
    step.published_at = utcnow()
    audit.record(session, actor, "question.step_published", "question", question.id, step_id=step.id,
                 kind=step.kind)
    if step.kind == STEP_SUPPLEMENT:
        settle_reopened(session, actor, question, step)
    session.commit()
    return step


def return_step(
    session: Session, actor: StaffUser, question: Question, step_id: int | None, comment: str
) -> QuestionStep:
    """The office returns a responder's interim or supplementary reply with a comment; it is never shown."""
    step = _pending_step(session, actor, question, step_id)
    comment = door.clean_line(comment or "")
    if door.visible_length(comment) < REVIEW_NOTE_MIN or len(comment) > REVIEW_NOTE_MAX:
        raise ValidationFailed({"comment": f"请填写退回修改的意见（{REVIEW_NOTE_MIN}-{REVIEW_NOTE_MAX} 个字）。"})
    step.review_note = comment
    notices.add_notice(session, step.department_id or question.department_id, question, NOTICE_REVIEWED,
                       f"办公室退回了留言 {question.number}“{question.title}”的{step.label}，"
                       f"请修改后重新提交：{comment}")
    audit.record(session, actor, "question.step_returned", "question", question.id, step_id=step.id,
                 kind=step.kind, comment=comment)
    session.commit()
    return step
