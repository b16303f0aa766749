"""Handling in steps: interim replies (阶段性答复), extensions (延期) approved by the office, the citizen's one
follow-up (追问) and the supplementary reply (补充答复), and co-departments' opinions (协办意见)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import Forbidden, InvalidTransition, ValidationFailed
from portal.models import DueExtension, Question, QuestionStep, StaffUser
from portal.models.desk import NOTICE_EXTENSION, NOTICE_FOLLOWUP, NOTICE_REVIEW, NOTICE_STEP
from portal.models.handling import (
    EXT_APPROVED,
    EXT_PENDING,
    EXT_REFUSED,
    STEP_FOLLOWUP,
    STEP_INTERIM,
    STEP_OPINION,
    STEP_REDO,
    STEP_SUPPLEMENT,
)
from portal.models.question import ANSWERED, PUBLISHED, RECEIVED, REOPEN_FOLLOWUP, REVIEW, ROUTED
from portal.models.staff import ROLE_OFFICE, ROLE_RESPONDER
from portal.search.indexer import enqueue as enqueue_for_search
from portal.services import audit
from portal.services.board import questions as question_service
from portal.services.clock import DueRule
from portal.services.desk import notices
from portal.timeutil import to_beijing, utcnow

AFTER_REPLY = (STEP_FOLLOWUP, STEP_REDO, STEP_SUPPLEMENT)
REVIEWED_STEPS = (STEP_INTERIM, STEP_SUPPLEMENT)  # what a responder writes for the citizen: reviewed like replies
STEP_MIN, STEP_MAX = 10, 5000
FOLLOWUP_MIN, FOLLOWUP_MAX = 10, 500
OPINION_MIN, OPINION_MAX = 2, 2000
REASON_MIN, REASON_MAX = 5, 200
EXTENSION_DAYS_MAX = 15
HANDLING_STATES = (ROUTED, ANSWERED, REVIEW)


def steps_for(session: Session, question: Question, public_only: bool = False) -> list[QuestionStep]:
    """The question's handling steps, oldest first; `public_only` leaves out co-departments' opinions."""
    stmt = select(QuestionStep).where(QuestionStep.question_id == question.id)
    if public_only:
        stmt = stmt.where(QuestionStep.kind != STEP_OPINION, QuestionStep.published_at.is_not(None))
    return list(session.scalars(stmt.order_by(QuestionStep.created_at, QuestionStep.id)))


def extensions_for(session: Session, question: Question) -> list[DueExtension]:
    """The question's extension requests, oldest first."""
    return list(session.scalars(
        select(DueExtension).where(DueExtension.question_id == question.id).order_by(DueExtension.id)
    ))


def pending_extension(session: Session, question: Question) -> DueExtension | None:
    """The extension waiting for the office's decision, if any."""
    return session.scalar(
        select(DueExtension).where(DueExtension.question_id == question.id, DueExtension.status == EXT_PENDING)
    )


@dataclass
class PublicEntry:
    """One line of what the citizen is told about handling, on /track and the question page."""

    at: datetime
    kind: str
    label: str
    who: str
    body: str
    old_due_at: datetime | None = None
    new_due_at: datetime | None = None


def public_thread(
    session: Session, question: Question, office_name: str
) -> tuple[list[PublicEntry], list[PublicEntry]]:
    """(progress before the reply: interim replies and approved extensions; after it: follow-up, send-back and
    supplementary replies), each oldest first. A send-back shows no body: the office's note is internal."""
    before: list[PublicEntry] = []
    after: list[PublicEntry] = []
    for step in steps_for(session, question, public_only=True):
        who = step.department.name if step.department else ("网友" if step.kind == STEP_FOLLOWUP else office_name)
        if step.kind == STEP_REDO:
            entry = PublicEntry(step.created_at, step.kind, "网友评价不满意，已要求承办部门重新办理", office_name, "")
        else:
            entry = PublicEntry(step.created_at, step.kind, step.label, who, step.body)
        (after if step.kind in AFTER_REPLY else before).append(entry)
    for ext in extensions_for(session, question):
        if ext.status == EXT_APPROVED and ext.decided_at is not None:
            who = ext.department.name if ext.department else office_name
            before.append(PublicEntry(ext.decided_at, "extension", "延期办理", who, ext.reason,
                                      ext.old_due_at, ext.new_due_at))
    before.sort(key=lambda e: e.at)
    return before, after


def _text(raw: str, field: str, low: int, high: int, what: str) -> str:
    text = door.clean_line(raw or "")
    if door.visible_length(text) < low or len(text) > high:
        raise ValidationFailed({field: f"请填写{what}（{low}-{high} 个字），现在是 {len(text)} 个字。"})
    return text


def _speaker(actor: StaffUser, question: Question) -> int | None:
    """The department a step speaks for: the responder's own; the office speaks for itself."""
    return actor.department_id if actor.role == ROLE_RESPONDER else None


def _add_step(
    session: Session, actor: StaffUser | None, question: Question, kind: str, body: str, publish: bool = True
) -> QuestionStep:
    now = utcnow()
    step = QuestionStep(question_id=question.id, kind=kind, author_id=actor.id if actor else None,
                        department_id=_speaker(actor, question) if actor else None, body=body, created_at=now,
                        published_at=now if publish else None)
    session.add(step)
    session.flush()
    return step


# ---- interim replies ------------------------------------------------------------------------------------


def held_for_review(actor: StaffUser, review: bool) -> bool:
    """With review (审核) on, what a responder writes for the citizen waits for the office."""
    return review and actor.role != ROLE_OFFICE


def _ask_review(session: Session, actor: StaffUser, question: Question, step: QuestionStep) -> None:
    dept = actor.department.name if actor.department else ""
    notices.add_notice(session, None, question, NOTICE_REVIEW,
                       f"{dept}提交了留言 {question.number}“{question.title}”的{step.label}，请审核后公开或退回修改。")
    audit.record(session, actor, "question.step_submitted", "question", question.id, step_id=step.id, kind=step.kind)


def add_interim(session: Session, actor: StaffUser, question: Question, body: str, review: bool = True) -> QuestionStep:
    """The handling department (or the office) tells the citizen how handling is going (after review, if on)."""
    if not question_service.can_handle(actor, question):
        raise Forbidden("您无权办理这条留言。")
    allowed = HANDLING_STATES + (RECEIVED,) if actor.role == ROLE_OFFICE else HANDLING_STATES
    if question.status not in allowed:
        raise InvalidTransition("只有办理中的留言可以作阶段性答复。")
    text = _text(body, "body", STEP_MIN, STEP_MAX, "阶段性答复")
    held = held_for_review(actor, review)
    step = _add_step(session, actor, question, STEP_INTERIM, text, publish=not held)
    if held:
        _ask_review(session, actor, question, step)
    else:
        if actor.role != ROLE_OFFICE:
            notices.add_notice(session, None, question, NOTICE_STEP,
                               f"留言 {question.number}“{question.title}”有新的阶段性答复。")
        audit.record(session, actor, "question.interim", "question", question.id, step_id=step.id, length=len(text))
    session.commit()
    return step


# ---- extensions -----------------------------------------------------------------------------------------


def request_extension(
    session: Session, actor: StaffUser, question: Question, days: int | None, reason: str, rule: DueRule
) -> DueExtension:
    """The handling department asks to move the due time by working days, with a reason the citizen will see.

    The office's own request is approved at once (it is the approver)."""
    if not question_service.can_handle(actor, question):
        raise Forbidden("您无权办理这条留言。")
    if question.status not in HANDLING_STATES or question.due_at is None:
        raise InvalidTransition("只有办理中、有答复时限的留言可以申请延期。")
    if pending_extension(session, question) is not None:
        raise InvalidTransition("这条留言已有待审批的延期申请。")
    reasons: dict[str, str] = {}
    if days is None or not 1 <= days <= EXTENSION_DAYS_MAX:
        reasons["days"] = f"延长的工作日数应为 1-{EXTENSION_DAYS_MAX}。"
    text = door.clean_line(reason or "")
    if door.visible_length(text) < REASON_MIN or len(text) > REASON_MAX:
        reasons["reason"] = f"请填写延期理由（{REASON_MIN}-{REASON_MAX} 个字，网友可见）。"
    if reasons:
        raise ValidationFailed(reasons)
    ext = DueExtension(
        question_id=question.id, department_id=question.department_id, requested_by_id=actor.id, reason=text,
        working_days=days, old_due_at=question.due_at, new_due_at=rule.later_by_working_days(question.due_at, days),
        status=EXT_PENDING, created_at=utcnow(),
    )
    session.add(ext)
    session.flush()
    audit.record(session, actor, "question.extension_requested", "question", question.id, extension_id=ext.id,
                 days=days, reason=text)
    if actor.role == ROLE_OFFICE:
        return decide_extension(session, actor, question, True, "办公室延期", rule)
    notices.add_notice(session, None, question, NOTICE_EXTENSION,
                       f"{ext.department.name if ext.department else ''}申请将留言 {question.number}“{question.title}”"
                       f"延期 {days} 个工作日：{text}")
    session.commit()
    return ext


def decide_extension(
    session: Session, actor: StaffUser, question: Question, approve: bool, note: str, rule: DueRule
) -> DueExtension:
    """The office approves (the due time moves) or refuses the pending extension; the department is told."""
    if actor.role != ROLE_OFFICE:
        raise Forbidden("只有办公室可以审批延期。")
    ext = pending_extension(session, question)
    if ext is None:
        raise InvalidTransition("这条留言没有待审批的延期申请。")
    note = door.clean_line(note or "")
    if len(note) > REASON_MAX:
        raise ValidationFailed({"note": f"审批意见不超过 {REASON_MAX} 个字。"})
    if not approve and door.is_blank(note):
        raise ValidationFailed({"note": "不批准延期时请填写理由。"})
    now = utcnow()
    ext.decided_by_id = actor.id
    ext.decided_at = now
    ext.decision_note = note or None
    if approve:
        if question.status not in HANDLING_STATES or question.due_at is None:
            raise InvalidTransition("这条留言已不在办理中，不能延期。")
        ext.status = EXT_APPROVED
        ext.old_due_at = question.due_at
        ext.new_due_at = rule.later_by_working_days(question.due_at, ext.working_days)
        question.due_at = ext.new_due_at
        question.extension_count = (question.extension_count or 0) + 1
        if ext.new_due_at > now:
            question.overdue_notified_at = None  # a new due time gets its own overdue notice
        message = f"办公室批准留言 {question.number} 延期，应答复时间改为 {to_beijing(ext.new_due_at):%m月%d日 %H:%M}。"
        audit.record(session, actor, "question.extended", "question", question.id, extension_id=ext.id,
                     old_due_at=ext.old_due_at, new_due_at=ext.new_due_at, note=note)
    else:
        ext.status = EXT_REFUSED
        message = f"办公室未批准留言 {question.number} 的延期申请：{note}"
        audit.record(session, actor, "question.extension_refused", "question", question.id, extension_id=ext.id,
                     note=note)
    if ext.requested_by_id != actor.id and question.department_id:
        notices.add_notice(session, question.department_id, question, NOTICE_EXTENSION, message)
    session.commit()
    return ext


# ---- follow-up and supplementary reply ------------------------------------------------------------------


def may_follow_up(session: Session, question: Question) -> bool:
    """One follow-up per question, after the reply is public, while nothing else is reopened."""
    return (
        question.status == PUBLISHED
        and question.hidden_at is None
        and question.reopen_kind is None
        and not any(s.kind == STEP_FOLLOWUP for s in steps_for(session, question))
    )


def follow_up(session: Session, question: Question, body: str) -> QuestionStep:
    """The citizen (proven by the tracking code) asks one follow-up question; the department is told."""
    if not may_follow_up(session, question):
        raise InvalidTransition("每条留言在答复公开后可以追问一次；这条留言现在不能追问。")
    text = _text(body, "body", FOLLOWUP_MIN, FOLLOWUP_MAX, "追问内容")
    step = _add_step(session, None, question, STEP_FOLLOWUP, text)
    question.reopen_kind = REOPEN_FOLLOWUP
    question.reopened_at = step.created_at
    notices.add_notice(session, question.department_id, question, NOTICE_FOLLOWUP,
                       f"网友对留言 {question.number}“{question.title}”进行了追问，请作补充答复：{text[:200]}")
    audit.record(session, None, "question.followup", "question", question.id, step_id=step.id, length=len(text))
    session.commit()
    return step


def pending_steps(session: Session, question: Question) -> list[QuestionStep]:
    """Interim and supplementary replies waiting for the office's review."""
    return [s for s in steps_for(session, question) if s.kind in REVIEWED_STEPS and s.is_pending]


def add_supplement(
    session: Session, actor: StaffUser, question: Question, body: str, review: bool = True
) -> QuestionStep:
    """The department answers the follow-up or the send-back (重办) in the same thread (after review, if on)."""
    if not question_service.can_handle(actor, question):
        raise Forbidden("您无权答复这条留言。")
    if question.status != PUBLISHED or question.reopen_kind is None:
        raise InvalidTransition("只有网友追问或办公室要求重新办理的留言需要补充答复。")
    if any(s.kind == STEP_SUPPLEMENT for s in pending_steps(session, question)):
        raise InvalidTransition("补充答复已提交办公室审核，审核退回后才能重新提交。")
    text = _text(body, "body", STEP_MIN, STEP_MAX, "补充答复")
    held = held_for_review(actor, review)
    step = _add_step(session, actor, question, STEP_SUPPLEMENT, text, publish=not held)
    if held:
        _ask_review(session, actor, question, step)
    else:
        settle_reopened(session, actor, question, step)
    session.commit()
    return step


def settle_reopened(session: Session, actor: StaffUser, question: Question, step: QuestionStep) -> None:
    """A published supplementary reply answers the follow-up or the send-back: the question is settled again."""
    kind = question.reopen_kind
    question.reopen_kind = None
    question.reopened_at = None
    if actor.role != ROLE_OFFICE:
        notices.add_notice(session, None, question, NOTICE_STEP,
                           f"留言 {question.number}“{question.title}”已作补充答复。")
    audit.record(session, actor, "question.supplement", "question", question.id, step_id=step.id, answers=kind)
    enqueue_for_search(session, question.id)


# ---- co-departments -------------------------------------------------------------------------------------


def is_co_department(user: StaffUser, question: Question) -> bool:
    """The user's department helps the lead department with this question (协办)."""
    return (
        user.role == ROLE_RESPONDER
        and user.department_id is not None
        and user.department_id != question.department_id
        and any(d.id == user.department_id for d in question.co_departments)
    )


def add_opinion(session: Session, actor: StaffUser, question: Question, body: str) -> QuestionStep:
    """A co-department gives its opinion (协办意见) for the lead department, which is told; never public."""
    if not is_co_department(actor, question):
        raise Forbidden("只有协办部门可以提出协办意见。")
    if question.status not in HANDLING_STATES:
        raise InvalidTransition("只有办理中的留言可以提出协办意见。")
    text = _text(body, "body", OPINION_MIN, OPINION_MAX, "协办意见")
    step = _add_step(session, actor, question, STEP_OPINION, text)
    notices.add_notice(session, question.department_id, question, NOTICE_STEP,
                       f"{actor.department.name if actor.department else '协办部门'}对留言 {question.number}"
                       f"“{question.title}”提出了协办意见。")
    audit.record(session, actor, "question.opinion", "question", question.id, step_id=step.id)
    session.commit()
    return step
