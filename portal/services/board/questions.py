"""Question use cases: asking, tracking, rating, routing, rejecting, replying and publishing."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import Forbidden, InvalidTransition, NotFound, QuotaExceeded, ValidationFailed
from portal.markup import render_markdown
from portal.models import Department, Question, Reply, StaffUser
from portal.models.question import (
    ANSWERED,
    CATEGORIES,
    PUBLISHED,
    RATINGS,
    RECEIVED,
    REJECT_REASONS,
    REJECTED,
    REVIEW,
    ROUTED,
)
from portal.models.staff import ROLE_OFFICE, ROLE_RESPONDER
from portal.search.indexer import enqueue as enqueue_for_search
from portal.services import audit
from portal.services.board import citizen_mail
from portal.services.clock import DueRule
from portal.timeutil import to_beijing, utcnow

TITLE_MIN, TITLE_MAX = 5, 50
BODY_MIN, BODY_MAX = 10, 2000
CONTACT_MAX = 100
REPLY_MAX = 20000
COMMENT_MAX = 500
NOTE_MAX = 500

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed from paper
CODE_LENGTH = 12
NOT_FOUND_MESSAGE = "未找到对应的留言，请核对留言编号和查询码。"


# ---- tracking codes -------------------------------------------------------------------------------------


def new_tracking_code() -> str:
    """A random 12-character code (60 bits), shown to the citizen once, in groups of four."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(code: str) -> str:
    """Full-width forms folded, upper-case, ASCII letters and digits only (separators and spaces dropped)."""
    return "".join(ch for ch in door.fold_width(code).upper() if ch.isascii() and ch.isalnum())


def hash_tracking_code(number: str, code: str) -> str:
    """The stored form of a tracking code: SHA-256 salted with the question's public number."""
    return hashlib.sha256(f"{number}:{normalise_code(code)}".encode()).hexdigest()


# ---- asking ---------------------------------------------------------------------------------------------


@dataclass
class NewQuestion:
    """What a citizen typed into the ask form."""

    title: str
    body: str
    category: str
    department_id: int | None = None
    contact: str = ""


def validate_new_question(session: Session, data: NewQuestion) -> dict[str, str]:
    """Field -> message for everything wrong with `data` (empty when it is acceptable)."""
    reasons: dict[str, str] = {}
    title = door.clean(data.title).strip()
    body = door.clean(data.body).strip()
    problem = length_problem(title, TITLE_MIN, TITLE_MAX, "标题", "请填写标题。")
    if problem:
        reasons["title"] = problem
    problem = length_problem(body, BODY_MIN, BODY_MAX, "留言内容", "请填写留言内容。")
    if problem:
        reasons["body"] = problem
    if data.category not in CATEGORIES:
        reasons["category"] = "请选择留言类别（咨询、建议、投诉或求助）。"
    if data.department_id is not None:
        dept = session.get(Department, data.department_id)
        if dept is None or not dept.active:
            reasons["department"] = "所选部门不存在，请重新选择。"
    if len(door.clean(data.contact).strip()) > CONTACT_MAX:
        reasons["contact"] = f"联系方式不超过 {CONTACT_MAX} 个字。"
    return reasons


def length_problem(value: str, minimum: int, maximum: int, label: str, empty: str) -> str | None:
    """The message for a text whose visible length is outside minimum..maximum (None when it fits).

    Visible characters are counted; a text padded with hidden ones past `maximum` characters in all is refused
    too (storage is sized for `maximum`), with a message that says why."""
    shown = door.visible_length(value)
    if shown == 0:
        return empty
    if not minimum <= shown <= maximum:
        return f"{label}应为 {minimum}-{maximum} 个字，现在是 {shown} 个字。"
    if len(value) > maximum:
        return f"{label}含有不可见的字符，超过了 {maximum} 个字的长度，请删除后再提交。"
    return None


def recent_count(session: Session, fingerprints: tuple[str, ...], since: datetime) -> int:
    """How many questions these fingerprints posted since `since`."""
    stmt = select(func.count(Question.id)).where(
        Question.poster_fingerprint.in_(fingerprints), Question.received_at >= since
    )
    return int(session.scalar(stmt) or 0)


def assign_number(session: Session, question: Question) -> None:
    """Give a flushed question its public number: Beijing date of receipt + row id."""
    if question.id is None:
        session.flush()
    question.number = f"{to_beijing(question.received_at):%Y%m%d}{question.id:05d}"


def submit_question(
    session: Session,
    data: NewQuestion,
    fingerprints: tuple[str, ...],
    quota_per_hour: int,
    rule: DueRule,
) -> tuple[Question, str]:
    """Accept a citizen's question; returns it and its tracking code (the only time the code exists)."""
    reasons = validate_new_question(session, data)
    if reasons:
        raise ValidationFailed(reasons)
    now = utcnow()
    if recent_count(session, fingerprints, now - timedelta(hours=1)) >= quota_per_hour:
        raise QuotaExceeded(f"同一网络每小时最多提交 {quota_per_hour} 条留言，请稍后再试。")
    contact = door.clean(data.contact).strip()
    contact = None if door.is_blank(contact) else contact
    question = Question(
        title=door.clean(data.title).strip(),
        body=door.clean(data.body).strip(),
        category=data.category,
        department_id=data.department_id,
        status=RECEIVED,
        received_at=now,
        due_at=rule.due_at(now),
        contact=contact,
        poster_fingerprint=fingerprints[0],
    )
    session.add(question)
    session.flush()
    assign_number(session, question)
    code = new_tracking_code()
    question.tracking_hash = hash_tracking_code(question.number, code)
    audit.record(session, None, "question.received", "question", question.id, number=question.number)
    session.commit()
    return question, code


# ---- tracking and rating --------------------------------------------------------------------------------


def find_by_tracking(session: Session, number: str, code: str) -> Question:
    """The question with this number and code; NotFound (same message) for a wrong code or unknown number."""
    number = door.digits(number)
    question = session.scalar(select(Question).where(Question.number == number)) if number else None
    expected = question.tracking_hash if question is not None and question.tracking_hash else "0" * 64
    given = hash_tracking_code(number, code or "")
    if not hmac.compare_digest(expected, given) or question is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    return question


def rate_reply(session: Session, question: Question, rating: str, comment: str) -> Question:
    """Record the citizen's one rating of a published reply."""
    if question.status != PUBLISHED:
        raise InvalidTransition("答复公开后才能评价。")
    if question.rating:
        raise InvalidTransition("您已评价过这条答复，每条答复只能评价一次。")
    reasons: dict[str, str] = {}
    if rating not in RATINGS:
        reasons["rating"] = "请选择满意、基本满意或不满意。"
    comment = door.clean(comment or "").strip()
    if door.is_blank(comment):
        comment = ""
    if len(comment) > COMMENT_MAX:
        reasons["comment"] = f"评价意见不超过 {COMMENT_MAX} 个字。"
    if reasons:
        raise ValidationFailed(reasons)
    question.rating = rating
    question.rating_comment = comment or None
    question.rated_at = utcnow()
    audit.record(session, None, "question.rated", "question", question.id, rating=rating)
    session.commit()
    return question


# ---- staff work -----------------------------------------------------------------------------------------


def can_handle(user: StaffUser, question: Question) -> bool:
    """The office handles every question; a responder only open ones routed to their own department."""
    if user.role == ROLE_OFFICE:
        return True
    if user.role == ROLE_RESPONDER:
        return (
            user.department_id is not None
            and question.department_id == user.department_id
            and question.status in (ROUTED, ANSWERED, REVIEW, PUBLISHED)
        )
    return False


def can_read(user: StaffUser, question: Question) -> bool:
    """Who may open a question: its handlers, and responders of a co-department (协办) while it is routed."""
    if can_handle(user, question):
        return True
    return (
        user.role == ROLE_RESPONDER
        and user.department_id is not None
        and question.status in (ROUTED, ANSWERED, REVIEW, PUBLISHED)
        and any(d.id == user.department_id for d in question.co_departments)
    )


def get_for_staff(session: Session, user: StaffUser, question_id: int, reading: bool = False) -> Question:
    """A question the user may handle (or, with `reading`, read); NotFound or Forbidden otherwise."""
    question = session.get(Question, question_id)
    if question is None:
        raise NotFound("留言不存在。")
    if not (can_read if reading else can_handle)(user, question):
        raise Forbidden("您无权处理这条留言。")
    return question


def _require(question: Question, status: str) -> None:
    if not question.may_become(status):
        raise InvalidTransition(f"这条留言当前状态为“{question.status_label}”，不能执行此操作。")


def route_question(
    session: Session, actor: StaffUser, question: Question, department_id: int | None, note: str = ""
) -> Question:
    """The office sends a question to a department."""
    if actor.role != ROLE_OFFICE:
        raise Forbidden("只有办公室可以分办留言。")
    _require(question, ROUTED)
    dept = session.get(Department, department_id) if department_id else None
    if dept is None or not dept.active:
        raise ValidationFailed({"department": "请选择要转交的部门。"})
    previous = question.department_id
    question.department_id = dept.id
    question.status = ROUTED
    question.routed_at = utcnow()
    audit.record(
        session, actor, "question.routed", "question", question.id,
        department=dept.name, previous_department_id=previous, note=door.clean(note).strip()[:NOTE_MAX],
    )
    session.commit()
    return question


def reject_question(session: Session, actor: StaffUser, question: Question, reason: str, note: str) -> Question:
    """The office refuses a question (不予受理): the citizen sees the reason; the office's note stays private."""
    if actor.role != ROLE_OFFICE:
        raise Forbidden("只有办公室可以不予受理留言。")
    _require(question, REJECTED)
    if reason not in REJECT_REASONS:
        raise ValidationFailed({"reason": "请选择不予受理的理由。"})
    note = door.clean(note or "").strip()
    if door.is_blank(note):
        note = ""
    if len(note) > NOTE_MAX:
        raise ValidationFailed({"note": f"说明不超过 {NOTE_MAX} 个字。"})
    now = utcnow()
    question.status = REJECTED
    question.reject_reason = reason
    question.reject_note = note or None
    question.closed_at = now
    audit.record(session, actor, "question.rejected", "question", question.id, reason=reason, note=note)
    session.commit()
    return question


def save_reply(session: Session, actor: StaffUser, question: Question, body_md: str) -> Reply:
    """Write or revise the reply draft; the question becomes 'answered' (awaiting publication)."""
    if not can_handle(actor, question):
        raise Forbidden("您无权答复这条留言。")
    if question.status == REVIEW and actor.role != ROLE_OFFICE:
        raise InvalidTransition("答复已提交办公室审核，审核退回后才能修改。")
    _require(question, ANSWERED)
    text = door.clean(body_md or "").strip()
    if door.visible_length(text) < BODY_MIN:
        raise ValidationFailed({"body": f"答复内容不少于 {BODY_MIN} 个字。"})
    if len(text) > REPLY_MAX:
        raise ValidationFailed({"body": f"答复内容不超过 {REPLY_MAX} 个字。"})
    now = utcnow()
    reply = question.reply
    if reply is None:
        reply = Reply(question=question, body_md=text, body_html=render_markdown(text), created_at=now)
        session.add(reply)
    else:
        reply.body_md = text
        reply.body_html = render_markdown(text)
    reply.updated_at = now
    reply.author_id = actor.id
    # The reply speaks for the handling department, or for the office when none was set.
    reply.department_id = question.department_id if question.department_id else actor.department_id
    question.status = ANSWERED
    question.answered_at = now
    audit.record(session, actor, "reply.saved", "question", question.id, length=len(text))
    session.commit()
    return reply


def may_publish(actor: StaffUser, review: bool) -> bool:
    """With review (审核) on, only the office publishes replies; without it, their handlers do too."""
    return actor.role == ROLE_OFFICE or (actor.role == ROLE_RESPONDER and not review)


def publish_reply(session: Session, actor: StaffUser, question: Question, review: bool = True) -> Question:
    """Publish the reply: the question and its answer appear on the board (the office's step under review)."""
    if not can_handle(actor, question):
        raise Forbidden("您无权发布这条答复。")
    if not may_publish(actor, review):
        raise Forbidden("答复须经办公室审核后才能发布，请点击“提交审核”。")
    if question.reply is None:
        raise InvalidTransition("请先撰写答复，再发布。")
    _require(question, PUBLISHED)
    now = utcnow()
    question.reply.published_at = now
    question.status = PUBLISHED
    question.published_at = now
    question.closed_at = now
    audit.record(session, actor, "reply.published", "question", question.id, number=question.number,
                 reviewed=question.reply.submitted_at is not None)
    enqueue_for_search(session, question.id)
    citizen_mail.queue_answer_mail(session, question)
    session.commit()
    return question


def hide_question(session: Session, actor: StaffUser, question: Question, reason: str) -> Question:
    """The office takes a published question off the board and out of search; the reason stays on record."""
    if actor.role != ROLE_OFFICE:
        raise Forbidden("只有办公室可以隐藏留言。")
    if question.status != PUBLISHED or question.hidden_at is not None:
        raise InvalidTransition("只能隐藏已公开的留言。")
    reason = door.clean(reason or "").strip()
    if door.is_blank(reason) or len(reason) > NOTE_MAX:
        raise ValidationFailed({"reason": f"请填写隐藏理由（不超过 {NOTE_MAX} 个字）。"})
    question.hidden_at = utcnow()
    question.hidden_reason = reason
    audit.record(session, actor, "question.hidden", "question", question.id, reason=reason)
    enqueue_for_search(session, question.id)
    session.commit()
    return question


def unhide_question(session: Session, actor: StaffUser, question: Question) -> Question:
    """Put a hidden question back on the board."""
    if actor.role != ROLE_OFFICE:
        raise Forbidden("只有办公室可以恢复留言。")
    if question.hidden_at is None:
        raise InvalidTransition("这条留言没有被隐藏。")
    question.hidden_at = None
    audit.record(session, actor, "question.unhidden", "question", question.id)
    enqueue_for_search(session, question.id)
    session.commit()
    return question
