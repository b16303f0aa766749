"""The patrol (巡查): a person marks a source looked at (finding nothing is an answer too); fed sources count
their automatic fetches; hand-patrolled sources need a human patrol each morning and each afternoon."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import Forbidden, NotFound, ValidationFailed
from portal.models import Department, StaffUser, WatchFetchLog, WatchSource
from portal.models.staff import ROLE_OFFICE, ROLE_RESPONDER
from portal.models.watch import OUTCOME_NEW, OUTCOME_NOT_MODIFIED
from portal.models.watch_loop import WatchPatrol
from portal.services import audit
from portal.timeutil import BEIJING, to_beijing, utcnow

NOTE_MAX = 500
NOON = time(12)
HALVES = ("上午", "下午")
OFFICE = "办公室"


def mark_patrolled(session: Session, actor: StaffUser, source_id: int, found: int, note: str) -> WatchPatrol:
    """Record that the actor looked at the source now and found `found` items needing attention (0 is fine)."""
    if actor.role not in (ROLE_OFFICE, ROLE_RESPONDER):
        raise Forbidden("只有办公室和部门网评员可以登记巡查。")
    source = session.get(WatchSource, source_id)
    if source is None:
        raise NotFound("没有这个信息源。")
    if actor.role == ROLE_RESPONDER and source.department_id != actor.department_id:
        raise Forbidden("这个信息源不由您的部门巡查。")
    note = door.clean_line(note or "")
    reasons = {}
    if found < 0 or found > 10000:
        reasons["found"] = "发现条数应为 0 到 10000 之间的整数。"
    if len(note) > NOTE_MAX:
        reasons["note"] = f"巡查备注不超过 {NOTE_MAX} 个字。"
    if reasons:
        raise ValidationFailed(reasons)
    patrol = WatchPatrol(source_id=source.id, staff_user_id=actor.id, department_id=actor.department_id,
                         at=utcnow(), found=found, note=note)
    session.add(patrol)
    session.flush()
    audit.record(session, actor, "watch.patrolled", "watch_source", source.id, found=found, patrol=patrol.id)
    session.commit()
    return patrol


def half_bounds(day: date, half: int) -> tuple[datetime, datetime]:
    """The Beijing morning (0) or afternoon (1) of `day` as aware datetimes."""
    start = datetime.combine(day, time(0) if half == 0 else NOON, BEIJING)
    end = datetime.combine(day, NOON, BEIJING) if half == 0 else datetime.combine(day + timedelta(days=1), time(0),
                                                                                   BEIJING)
    return start, end


@dataclass
class SourceCoverage:
    """One source on one day: covered in the morning / afternoon, and how."""

    source: WatchSource
    halves: list[str] = field(default_factory=lambda: ["", ""])  # "巡查" / "自动抓取" / "" (not covered)

    def covered(self, half: int) -> bool:
        return bool(self.halves[half])


@dataclass
class DepartmentCoverage:
    """A department's sources on one day."""

    name: str
    sources: list[SourceCoverage]

    def missing(self, half: int) -> list[SourceCoverage]:
        return [s for s in self.sources if not s.covered(half)]

    @property
    def required(self) -> int:
        return 2 * len(self.sources)

    @property
    def done(self) -> int:
        return sum(s.covered(0) + s.covered(1) for s in self.sources)


def _half_of(value: datetime, day: date) -> int | None:
    local = to_beijing(value)
    if local.date() != day:
        return None
    return 0 if local.time() < NOON else 1


def day_coverage(session: Session, day: date) -> list[DepartmentCoverage]:
    """Every source that is not paused, grouped by department, with its morning and afternoon coverage."""
    start, _ = half_bounds(day, 0)
    _, end = half_bounds(day, 1)
    sources = list(session.scalars(select(WatchSource).where(WatchSource.paused.is_(False))
                                   .order_by(WatchSource.name)))
    by_id = {s.id: SourceCoverage(s) for s in sources}
    for source_id, at in session.execute(
        select(WatchPatrol.source_id, WatchPatrol.at).where(WatchPatrol.at >= start, WatchPatrol.at < end)
    ):
        half = _half_of(at, day)
        if source_id in by_id and half is not None:
            by_id[source_id].halves[half] = "巡查"
    for source_id, at in session.execute(
        select(WatchFetchLog.source_id, WatchFetchLog.at).where(
            WatchFetchLog.at >= start, WatchFetchLog.at < end,
            WatchFetchLog.outcome.in_((OUTCOME_NEW, OUTCOME_NOT_MODIFIED)),
        )
    ):
        cov = by_id.get(source_id)
        half = _half_of(at, day)
        if cov is not None and half is not None and not cov.source.by_hand and not cov.halves[half]:
            cov.halves[half] = "自动抓取"
    names = {d.id: d.name for d in session.scalars(select(Department))}
    groups: dict[str, list[SourceCoverage]] = {}
    for cov in by_id.values():
        groups.setdefault(names.get(cov.source.department_id, OFFICE), []).append(cov)
    return [DepartmentCoverage(name, groups[name]) for name in sorted(groups, key=lambda n: (n != OFFICE, n))]


def week_coverage(session: Session, last_day: date) -> tuple[list[date], dict[str, list[tuple[int, int]]]]:
    """Seven days up to `last_day`: per department, (half-days covered, half-days required) per day."""
    days = [last_day - timedelta(days=n) for n in range(6, -1, -1)]
    table: dict[str, list[tuple[int, int]]] = {}
    for i, day in enumerate(days):
        for dept in day_coverage(session, day):
            table.setdefault(dept.name, [(0, 0)] * len(days))[i] = (dept.done, dept.required)
    return days, table


def today() -> date:
    """Today's date in Beijing."""
    return to_beijing(utcnow()).date()
