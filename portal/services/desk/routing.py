"""The office's desk: the filtered queue, routing with co-departments and notices, bulk routing, sending
back, duplicate merge, internal notes, major items and reply templates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import Forbidden, InvalidTransition, NotFound, PortalError, ValidationFailed
from portal.models import Department, InternalNote, Question, ReplyTemplate, StaffUser
from portal.models.desk import NOTICE_RETURNED, NOTICE_ROUTED
from portal.models.question import OPEN_STATES, PUBLISHED, RECEIVED, REJECTED, ROUTED, STATUS_LABELS
from portal.models.staff import ROLE_OFFICE, ROLE_RESPONDER
from portal.numbers import is_ascii_digits
from portal.services import audit
from portal.services.board import listing
from portal.services.board import questions as question_service
from portal.services.desk import notices
from portal.services.ops.mailer import mail_configured
from portal.timeutil import to_beijing, utcnow

NOTE_MAX = 2000
TEMPLATE_TITLE_MAX = 100
TEMPLATE_BODY_MAX = 5000
BULK_MAX = 200
DUE_CHOICES = {"overdue": "已超时", "soon": "即将到期"}


# ---- the queue ------------------------------------------------------------------------------------------


@dataclass
class QueueFilters(listing.ItemFilters):
    """The desk's filters, validated."""

    status: str | None = None
    due: str | None = None
    major: bool = False
    text: str = ""
    number: str = ""


def parse_queue_filters(session: Session, args: Mapping[str, str]) -> QueueFilters:
    """Validate the desk's query string; ValidationFailed says what is wrong."""
    reasons: dict[str, str] = {}
    out = QueueFilters(raw={k: str(args.get(k, ""))[:100] for k in
                            ("status", "department", "category", "due", "major", "q", "since", "until")})
    status = out.raw["status"]
    if status:
        if status in STATUS_LABELS or status == "open":
            out.status = status
        else:
            reasons["status"] = "没有这个办理状态。"
    listing.parse_item_filters(session, out, reasons)
    if out.raw["due"]:
        if out.raw["due"] in DUE_CHOICES:
            out.due = out.raw["due"]
        else:
            reasons["due"] = "时限筛选应为“已超时”或“即将到期”。"
    out.major = out.raw["major"] in ("1", "on", "true")
    out.text = door.clean(out.raw["q"]).strip()[:50]
    folded = door.fold_width(out.text)
    out.number = folded if is_ascii_digits(folded) else ""  # a question number typed full-width finds it too
    if reasons:
        raise ValidationFailed(reasons)
    return out


def office_queue(
    session: Session, filters: QueueFilters, soon_hours: int, now: datetime | None = None, limit: int = 500
) -> list[Question]:
    """Questions for the office's desk; open ones unless a status is chosen; soonest due first."""
    now = now or utcnow()
    stmt: Select = select(Question)
    if filters.status == "open" or (filters.status is None and filters.due is None):
        stmt = stmt.where(Question.status.in_(OPEN_STATES))
    elif filters.status:
        stmt = stmt.where(Question.status == filters.status)
    if filters.due == "overdue":
        stmt = stmt.where(Question.status.in_(OPEN_STATES), Question.due_at < now,
                          Question.imported_history.is_(False))
    elif filters.due == "soon":
        soon = now + timedelta(hours=soon_hours)
        stmt = stmt.where(Question.status.in_(OPEN_STATES), Question.due_at >= now, Question.due_at <= soon)
    stmt = listing.where_item_filters(stmt, filters)
    if filters.major:
        stmt = stmt.where(Question.is_major.is_(True))
    if filters.text:
        like = "%" + filters.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            Question.title.like(like, escape="\\") | (Question.number == (filters.number or filters.text))
        )
    stmt = stmt.order_by(Question.due_at.is_(None), Question.due_at, Question.id).limit(limit)
    return list(session.scalars(stmt))


def clock_view(session: Session, user: StaffUser, soon_hours: int, now: datetime | None = None):
    """(overdue, due soon) open questions on the user's desk: everything for the office, own department else."""
    now = now or utcnow()
    stmt = select(Question).where(
        Question.status.in_(OPEN_STATES), Question.due_at.is_not(None), Question.imported_history.is_(False)
    )
    if user.role == ROLE_RESPONDER:
        stmt = stmt.where(Question.department_id == user.department_id, Question.status != RECEIVED)
    rows = list(session.scalars(stmt.where(Question.due_at <= now + timedelta(hours=soon_hours))
                                .order_by(Question.due_at, Question.id).limit(1000)))
    return [q for q in rows if q.due_at < now], [q for q in rows if q.due_at >= now]


# ---- routing --------------------------------------------------------------------------------------------


def _active_department(session: Session, department_id: int | None) -> Department | None:
    dept = session.get(Department, department_id) if department_id else None
    return dept if dept is not None and dept.active else None


def route(
    session: Session,
    actor: StaffUser,
    question: Question,
    department_id: int | None,
    note: str,
    config: Mapping[str, Any],
    co_department_ids: list[int] | None = None,
) -> Question:
    """Route to a lead department (with co-departments); notify them on screen, and by mail through the worker."""
    if actor.role != ROLE_OFFICE:
        raise Forbidden("只有办公室可以分办留言。")
    lead = _active_department(session, department_id)
    co = []
    for dept_id in dict.fromkeys(co_department_ids or []):
        dept = _active_department(session, dept_id)
        if dept is None:
            raise ValidationFailed({"co_departments": "所选协办部门不存在。"})
        if lead is not None and dept.id != lead.id:
            co.append(dept)
    if lead is None:
        raise ValidationFailed({"department": "请选择要转交的部门。"})
    if not question.may_become(ROUTED):
        raise InvalidTransition(f"这条留言当前状态为“{question.status_label}”，不能分办。")
    question.co_departments = co
    due = f"（应于 {to_beijing(question.due_at):%m月%d日 %H:%M} 前答复）" if question.due_at else ""
    mail = mail_configured(config)
    notices.add_notice(session, lead.id, question, NOTICE_ROUTED,
                       f"办公室转交留言 {question.number}“{question.title}”，请牵头办理{due}。", mail=mail)
    for dept in co:
        notices.add_notice(session, dept.id, question, NOTICE_ROUTED,
                           f"留言 {question.number}“{question.title}”由{lead.name}牵头，请协助办理。", mail=mail)
    if co:
        audit.record(session, actor, "question.co_departments", "question", question.id,
                     co_departments=[d.name for d in co])
    question_service.route_question(session, actor, question, lead.id, note)  # commits
    return question


def bulk_route(
    session: Session, actor: StaffUser, question_ids: list[int], department_id: int | None, config: Mapping[str, Any]
) -> tuple[int, list[str]]:
    """Route several questions to one department; returns how many were routed and the messages for the rest."""
    if not question_ids:
        raise ValidationFailed({"ids": "请先勾选要分办的留言。"})
    if len(question_ids) > BULK_MAX:
        raise ValidationFailed({"ids": f"一次最多分办 {BULK_MAX} 条留言。"})
    if _active_department(session, department_id) is None:
        raise ValidationFailed({"department": "请选择要转交的部门。"})
    done, problems = 0, []
    for qid in question_ids:
        question = session.get(Question, qid)
        if question is None:
            problems.append(f"留言 {qid} 不存在。")
            continue
        try:
            route(session, actor, question, department_id, "批量分办", config)
        except PortalError as exc:
            session.rollback()
            problems.append(f"留言 {question.number}：{exc.message}")
        else:
            done += 1
    return done, problems


def send_back(session: Session, actor: StaffUser, question: Question, reason: str) -> Question:
    """The lead department returns a question to the office with a reason (not its remit, needs another)."""
    if actor.role != ROLE_RESPONDER or actor.department_id is None or question.department_id != actor.department_id:
        raise Forbidden("只有牵头部门可以退回这条留言。")
    if question.status != ROUTED:
        raise InvalidTransition("只有已转交、尚未答复的留言可以退回办公室。")
    reason = door.clean(reason or "").strip()
    if not 2 <= door.visible_length(reason) or len(reason) > 500:
        raise ValidationFailed({"reason": "请填写退回理由（2-500 个字）。"})
    dept_name = question.department.name if question.department else ""
    question.status = RECEIVED
    question.department_id = None
    question.co_departments = []
    notices.add_notice(session, None, question, NOTICE_RETURNED,
                       f"{dept_name}退回留言 {question.number}“{question.title}”：{reason}")
    audit.record(session, actor, "question.returned", "question", question.id, department=dept_name, reason=reason)
    session.commit()
    return question


# ---- duplicates, notes, major items ---------------------------------------------------------------------


def merge_duplicate(session: Session, actor: StaffUser, question: Question, original_number: str) -> Question:
    """Close a question as a duplicate of an earlier answered one; the citizen is shown the answer's link."""
    if actor.role != ROLE_OFFICE:
        raise Forbidden("只有办公室可以合并重复留言。")
    number = door.digits(original_number)
    original = session.scalar(select(Question).where(Question.number == number)) if number else None
    if original is None or original.id == question.id:
        raise ValidationFailed({"original": "请填写另一条已答复留言的编号。"})
    if not original.is_public:
        raise ValidationFailed({"original": "只能合并到已公开答复的留言。"})
    if original.received_at > question.received_at:
        raise ValidationFailed({"original": "只能合并到更早的留言。"})
    if not question.may_become(REJECTED):
        raise InvalidTransition(f"这条留言当前状态为“{question.status_label}”，不能合并。")
    now = utcnow()
    question.duplicate_of_id = original.id
    question.status = REJECTED
    question.reject_reason = "duplicate"
    question.reject_note = f"与留言 {original.number} 内容相同，已合并。"
    question.closed_at = now
    audit.record(session, actor, "question.merged", "question", question.id, into=original.number)
    session.commit()
    return question


def duplicates_of(session: Session, question: Question) -> int:
    """How many questions were merged into this one."""
    from sqlalchemy import func

    return int(session.scalar(select(func.count(Question.id)).where(Question.duplicate_of_id == question.id)) or 0)


def add_note(session: Session, actor: StaffUser, question: Question, body: str) -> InternalNote:
    """An internal note on the question (staff only, never public)."""
    body = door.clean(body or "").strip()
    if door.is_blank(body) or len(body) > NOTE_MAX:
        raise ValidationFailed({"body": f"请填写备注（不超过 {NOTE_MAX} 个字）。"})
    note = InternalNote(question_id=question.id, author_id=actor.id, body=body, created_at=utcnow())
    session.add(note)
    session.flush()
    audit.record(session, actor, "question.note", "question", question.id, note_id=note.id)
    session.commit()
    return note


def notes_for(session: Session, question: Question) -> list[InternalNote]:
    """The question's internal notes, oldest first."""
    return list(session.scalars(
        select(InternalNote).where(InternalNote.question_id == question.id).order_by(InternalNote.id)
    ))


def set_major(session: Session, actor: StaffUser, questions: list[Question], major: bool, reason: str = "") -> int:
    """Mark (or unmark) questions as major items for the leadership."""
    if actor.role != ROLE_OFFICE:
        raise Forbidden("只有办公室可以标记重大舆情。")
    changed = 0
    for question in questions:
        if question.is_major != major:
            question.is_major = major
            changed += 1
            audit.record(session, actor, "question.major" if major else "question.unmajor", "question",
                         question.id, reason=door.clean(reason).strip()[:500])
    session.commit()
    return changed


# ---- reply templates ------------------------------------------------------------------------------------


def templates_for(session: Session, department_id: int | None) -> list[ReplyTemplate]:
    """A department's templates and the office's general ones."""
    stmt = select(ReplyTemplate)
    if department_id:
        stmt = stmt.where((ReplyTemplate.department_id == department_id) | ReplyTemplate.department_id.is_(None))
    return list(session.scalars(stmt.order_by(ReplyTemplate.department_id.is_not(None), ReplyTemplate.title)))


def _may_edit_template(actor: StaffUser, department_id: int | None) -> bool:
    if actor.role == ROLE_OFFICE:
        return True
    return actor.role == ROLE_RESPONDER and department_id is not None and department_id == actor.department_id


def save_template(
    session: Session, actor: StaffUser, template_id: int | None, department_id: int | None, title: str, body: str
) -> ReplyTemplate:
    """Create or edit a reply template; a responder edits only their own department's."""
    title = door.clean(title or "").strip()
    body = door.clean(body or "").strip()
    reasons = {}
    if door.is_blank(title) or len(title) > TEMPLATE_TITLE_MAX:
        reasons["title"] = f"请填写模板名称（不超过 {TEMPLATE_TITLE_MAX} 个字）。"
    if door.visible_length(body) < 10 or len(body) > TEMPLATE_BODY_MAX:
        reasons["body"] = f"模板内容应为 10-{TEMPLATE_BODY_MAX} 个字。"
    if department_id is not None and session.get(Department, department_id) is None:
        reasons["department"] = "没有这个部门。"
    if reasons:
        raise ValidationFailed(reasons)
    if not _may_edit_template(actor, department_id):
        raise Forbidden("您只能维护本部门的答复模板。")
    if template_id:
        template = session.get(ReplyTemplate, template_id)
        if template is None:
            raise NotFound("模板不存在。")
        if not _may_edit_template(actor, template.department_id):
            raise Forbidden("您只能维护本部门的答复模板。")
    else:
        template = ReplyTemplate(created_at=utcnow())
        session.add(template)
    template.department_id = department_id
    template.title = title
    template.body = body
    template.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "template.saved", "reply_template", template.id, title=title)
    session.commit()
    return template


def delete_template(session: Session, actor: StaffUser, template_id: int) -> None:
    """Remove a reply template."""
    template = session.get(ReplyTemplate, template_id)
    if template is None:
        raise NotFound("模板不存在。")
    if not _may_edit_template(actor, template.department_id):
        raise Forbidden("您只能维护本部门的答复模板。")
    audit.record(session, actor, "template.deleted", "reply_template", template.id, title=template.title)
    session.delete(template)
    session.commit()


def is_public_duplicate_target(question: Question) -> bool:
    """A merged question points at a public answer."""
    return question.duplicate_of is not None and question.duplicate_of.status == PUBLISHED
