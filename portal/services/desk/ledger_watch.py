"""The watched items' side of the one ledger (台账): their rows in the ledger's columns, with channel and platform."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, exists, false, func, or_, select
from sqlalchemy.orm import Session

from portal.models import Department, WatchItem, WatchMatch, WatchSource
from portal.models.watch_loop import ITEM_PENDING, ITEM_STATUS_LABELS, watch_item_codepartment
from portal.timeutil import BEIJING

BOARD_CHANNEL = "本站留言"
BOARD_PLATFORM = "本站留言板"
NUMBER_PREFIX = "监测-"


def _day_start(day) -> datetime:
    return datetime.combine(day, datetime.min.time(), BEIJING)


def in_ledger() -> object:
    """Which watched items the ledger holds: every item taken up (triaged), matched by a plan, or added by hand."""
    return or_(WatchItem.status != ITEM_PENDING, WatchItem.by_hand.is_(True),
               exists().where(WatchMatch.item_id == WatchItem.id))


def wants_watch(filters) -> bool:
    """False when a filter only board questions can meet is set (category, a question status, a rating)."""
    if filters.category or filters.rating:
        return False
    if filters.channel == BOARD_CHANNEL or filters.platform == BOARD_PLATFORM:
        return False
    return not (filters.status and filters.status not in ITEM_STATUS_LABELS)


def statement(filters) -> Select:
    """The watched items matching the ledger's filters, oldest first."""
    stmt = select(
        WatchItem.id, WatchItem.title, Department.name, WatchItem.status, WatchItem.first_seen_at,
        WatchItem.assigned_at, WatchItem.answered_at, WatchItem.due_at, WatchItem.grade, WatchItem.severity,
        WatchSource.platform, WatchSource.name.label("source_name"),
    ).join(WatchSource, WatchSource.id == WatchItem.source_id).outerjoin(
        Department, Department.id == WatchItem.department_id
    ).where(in_ledger())
    if not wants_watch(filters):
        stmt = stmt.where(false())
    if filters.department_id:
        stmt = stmt.where(WatchItem.department_id == filters.department_id)
    if filters.since:
        stmt = stmt.where(WatchItem.first_seen_at >= _day_start(filters.since))
    if filters.until:
        stmt = stmt.where(WatchItem.first_seen_at < _day_start(filters.until + timedelta(days=1)))
    if filters.status:
        stmt = stmt.where(WatchItem.status == filters.status)
    if filters.major:
        stmt = stmt.where(WatchItem.severity == "重大")
    if filters.channel:
        stmt = stmt.where(WatchSource.platform == filters.channel)
    if filters.platform:
        stmt = stmt.where(WatchSource.name == filters.platform)
    return stmt.order_by(WatchItem.first_seen_at, WatchItem.id)


def co_departments(session: Session) -> dict[int, list[str]]:
    """Each watched item's co-departments by name."""
    out: dict[int, list[str]] = {}
    for item_id, name in session.execute(
        select(watch_item_codepartment.c.item_id, Department.name)
        .join(Department, Department.id == watch_item_codepartment.c.department_id).order_by(Department.id)
    ):
        out.setdefault(item_id, []).append(name)
    return out


def row(r, co: dict[int, list[str]]) -> tuple[datetime, int, list]:
    """(sort time, tie-break, typed cells) of one watched item in the ledger's columns (portal.sheets values)."""
    answered = r.answered_at
    on_time = "" if answered is None or r.due_at is None else ("是" if answered <= r.due_at else "否")
    hours = None if answered is None else round(max(0.0, (answered - r.first_seen_at).total_seconds()) / 3600, 1)
    cells = [
        f"{NUMBER_PREFIX}{r.id}", r.title, "", r.name or ("办公室" if r.assigned_at else ""),
        "、".join(co.get(r.id, [])), ITEM_STATUS_LABELS.get(r.status, r.status), r.first_seen_at,
        r.assigned_at, answered, answered, r.due_at, on_time, hours, r.grade or "",
        "是" if r.severity == "重大" else "", "", r.platform, r.source_name,
    ]
    return r.first_seen_at, 1, cells


def count(session: Session, filters) -> int:
    """How many watched items match."""
    return int(session.scalar(select(func.count()).select_from(statement(filters).order_by(None).subquery())) or 0)


def platforms(session: Session) -> list[str]:
    """The watched sources' names, for the platform filter."""
    return [BOARD_PLATFORM] + list(session.scalars(select(WatchSource.name).order_by(WatchSource.name).distinct()))
