"""Read-side queries: the public board, the staff queues."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from portal.errors import ValidationFailed
from portal.models import Department, Question, StaffUser
from portal.models.desk import question_codepartment
from portal.models.question import ANSWERED, CATEGORIES, PUBLISHED, RECEIVED, REVIEW, ROUTED
from portal.models.staff import ROLE_OFFICE, ROLE_RESPONDER
from portal.numbers import page_count, parse_positive_int
from portal.timeutil import BEIJING, month_range, parse_month

CATEGORY_MESSAGE = "类别应为咨询、建议、投诉或求助。"


@dataclass
class BoardFilters:
    """The public board's filters, validated."""

    department: Department | None = None
    category: str | None = None
    month: str | None = None  # YYYY-MM
    page: int = 1


@dataclass
class Page:
    """One page of results."""

    items: list[Question]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.per_page)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def parse_board_filters(session: Session, department: str, category: str, month: str, page: str) -> BoardFilters:
    """Validate the board's query string; ValidationFailed lists what is wrong."""
    reasons: dict[str, str] = {}
    out = BoardFilters()
    if department:
        out.department = session.scalar(select(Department).where(Department.slug == department))
        if out.department is None:
            reasons["department"] = "没有这个部门。"
    out.category = parse_category(category, reasons)
    if month:
        if parse_month(month) is not None:
            out.month = month
        else:
            reasons["month"] = "月份格式应为 2026-11 这样的“年-月”（1990-2100 年）。"
    if page:
        parsed = parse_positive_int(page, 99999)
        if parsed is not None:
            out.page = parsed
        else:
            reasons["page"] = "页码应为正整数（1 到 99999）。"
    if reasons:
        raise ValidationFailed(reasons)
    return out


def parse_category(text: str, reasons: dict[str, str]) -> str | None:
    """One of CATEGORIES, or None with a message in `reasons` (empty text: None, no message)."""
    if not text:
        return None
    if text in CATEGORIES:
        return text
    reasons["category"] = CATEGORY_MESSAGE
    return None


def parse_date(text: str, name: str, reasons: dict[str, str], label: str) -> date | None:
    """A YYYY-MM-DD date between 1990 and 2100, or a message in `reasons`."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = date.fromisoformat(text) if len(text) == 10 and text.isascii() else None
    except ValueError:
        value = None
    if value is None or not 1990 <= value.year <= 2100:
        reasons[name] = f"{label}格式应为 2026-11-25 这样的日期（1990-2100 年）。"
        return None
    return value


def day_start(day: date) -> datetime:
    """The UTC instant a Beijing calendar day starts."""
    return datetime.combine(day, time(0), BEIJING)


@dataclass
class ItemFilters:
    """The filters the office's desk and the ledger share: lead department (by id), category and the received
    date range (Beijing calendar days, inclusive); `raw` keeps the query string as typed (each value cut at 100)."""

    department_id: int | None = None
    category: str | None = None
    since: date | None = None
    until: date | None = None
    raw: dict[str, str] = field(default_factory=dict)


def parse_item_filters(session: Session, out: ItemFilters, reasons: dict[str, str]) -> None:
    """Validate the shared filters from `out.raw` into `out`; messages go to `reasons` (the caller raises)."""
    if out.raw.get("department"):
        dept_id = parse_positive_int(out.raw["department"], 10**9)
        if dept_id is None or session.get(Department, dept_id) is None:
            reasons["department"] = "没有这个部门。"
        else:
            out.department_id = dept_id
    out.category = parse_category(out.raw.get("category", ""), reasons)
    out.since = parse_date(out.raw.get("since", ""), "since", reasons, "起始日期")
    out.until = parse_date(out.raw.get("until", ""), "until", reasons, "截止日期")
    if out.since and out.until and out.until < out.since:
        reasons["until"] = "截止日期不能早于起始日期。"


def where_item_filters(stmt: Select, filters: ItemFilters) -> Select:
    """Add the shared filters' conditions on Question to a query."""
    if filters.department_id:
        stmt = stmt.where(Question.department_id == filters.department_id)
    if filters.category:
        stmt = stmt.where(Question.category == filters.category)
    if filters.since:
        stmt = stmt.where(Question.received_at >= day_start(filters.since))
    if filters.until:
        stmt = stmt.where(Question.received_at < day_start(filters.until + timedelta(days=1)))
    return stmt


def published_board(session: Session, filters: BoardFilters, per_page: int) -> Page:
    """Published questions, newest answer first, with the board's filters."""
    stmt: Select = select(Question).where(Question.status == PUBLISHED, Question.hidden_at.is_(None))
    if filters.department is not None:
        stmt = stmt.where(Question.department_id == filters.department.id)
    if filters.category:
        stmt = stmt.where(Question.category == filters.category)
    if filters.month:
        start, end = month_range(filters.month)
        stmt = stmt.where(Question.received_at >= start, Question.received_at < end)
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = session.scalars(
        stmt.order_by(Question.published_at.desc(), Question.id.desc())
        .limit(per_page)
        .offset((filters.page - 1) * per_page)
    ).all()
    return Page(items=list(rows), total=total, page=filters.page, per_page=per_page)


def latest_published(session: Session, limit: int = 10) -> list[Question]:
    """The newest published answers, for the home page."""
    stmt = (
        select(Question)
        .where(Question.status == PUBLISHED, Question.hidden_at.is_(None))
        .order_by(Question.published_at.desc(), Question.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt).all())


def get_published(session: Session, number: str) -> Question | None:
    """A published question by its public number."""
    return session.scalar(
        select(Question).where(
            Question.number == number, Question.status == PUBLISHED, Question.hidden_at.is_(None)
        )
    )


def is_under_review(session: Session, number: str) -> bool:
    """A published question the office (or citizens' reports) took off the board for review."""
    return session.scalar(
        select(Question.id).where(
            Question.number == number, Question.status == PUBLISHED, Question.hidden_at.is_not(None)
        )
    ) is not None


def departments(session: Session) -> list[Department]:
    """Active departments in name order."""
    return list(session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.id)))


def department_slugs(session: Session) -> list[str]:
    """Every department slug the board's `department` filter accepts."""
    return list(session.scalars(select(Department.slug).order_by(Department.slug)))


def staff_queue(session: Session, user: StaffUser, limit: int = 200) -> list[Question]:
    """The office: questions waiting for triage and everything open; a responder: their department's open items,
    its published questions reopened by a follow-up or a send-back, and the open questions it helps with (协办)."""
    handling = (ROUTED, ANSWERED, REVIEW)
    if user.role == ROLE_OFFICE:
        stmt = select(Question).where(Question.status.in_((RECEIVED,) + handling))
    elif user.role == ROLE_RESPONDER and user.department_id:
        helping = select(question_codepartment.c.question_id).where(
            question_codepartment.c.department_id == user.department_id
        )
        stmt = select(Question).where(
            ((Question.department_id == user.department_id)
             & (Question.status.in_(handling) | ((Question.status == PUBLISHED) & Question.reopen_kind.is_not(None))))
            | (Question.status.in_(handling) & Question.id.in_(helping))
        )
    else:
        return []
    stmt = stmt.order_by(Question.due_at.is_(None), Question.due_at, Question.id).limit(limit)
    return list(session.scalars(stmt).all())
