"""The yearly assessment (年度考核) of each department on the office's three standards, over both channels:
answered in time, well received (board satisfaction; the office's grade of each watched answer), kept from
escalating (watched items that became 重大 after assignment, questions put on a memo after routing)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.errors import ValidationFailed
from portal.models import Department, Memo, MemoItem, Question, WatchItem
from portal.models.question import REJECTED
from portal.models.watch_loop import GRADES, ITEM_ASSIGNED, ITEM_CLOSED, ITEM_RESPONDED
from portal.services.desk.stats import SATISFIED
from portal.timeutil import BEIJING, utcnow

HANDLED = (ITEM_ASSIGNED, ITEM_RESPONDED, ITEM_CLOSED)
LEVELS = ("优秀", "良好", "合格", "不合格")
STANDARDS = ("按时回应", "群众认可", "未发酵升级")
YEAR_MESSAGE = "年份应为 2000 到 2100 之间的四位数字。"


@dataclass(frozen=True)
class AssessSettings:
    """Weights of the three standards, the score thresholds of the levels, the credit of each grade."""

    weights: tuple[float, float, float] = (40.0, 30.0, 30.0)
    levels: tuple[float, float, float] = (90.0, 80.0, 60.0)
    grade_credit: tuple[float, float, float] = (1.0, 0.5, 0.0)


def _numbers(raw: str, n: int, default: tuple) -> tuple:
    try:
        values = tuple(float(v) for v in str(raw).split(","))
    except ValueError:
        return default
    return values if len(values) == n and all(v >= 0 for v in values) else default


def settings_from(config: Mapping[str, Any]) -> AssessSettings:
    """The ASSESS_* settings (a malformed value keeps the default)."""
    base = AssessSettings()
    return AssessSettings(
        weights=_numbers(config.get("ASSESS_WEIGHTS", ""), 3, base.weights),
        levels=_numbers(config.get("ASSESS_LEVELS", ""), 3, base.levels),
        grade_credit=_numbers(config.get("ASSESS_GRADE_CREDIT", ""), 3, base.grade_credit),
    )


def parse_year(text: str | None, default: int) -> int:
    """A year 2000-2100, `default` when empty; ValidationFailed otherwise."""
    text = (text or "").strip()
    if not text:
        return default
    if not (len(text) == 4 and text.isdigit() and 2000 <= int(text) <= 2100):
        raise ValidationFailed({"year": YEAR_MESSAGE})
    return int(text)


@dataclass
class DepartmentResult:
    """One department's counts, rates and score for the year."""

    name: str
    board_items: int = 0
    watch_items: int = 0
    due: int = 0  # items that had to be answered by now (answered, or overdue)
    on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    graded: int = 0
    grade_credit: float = 0.0
    escalated: int = 0
    score: float | None = None
    level: str = "—"

    @property
    def handled(self) -> int:
        return self.board_items + self.watch_items

    @property
    def in_time_rate(self) -> float | None:
        return self.on_time / self.due if self.due else None

    @property
    def well_received_rate(self) -> float | None:
        n = self.rated + self.graded
        return (self.satisfied + self.grade_credit) / n if n else None

    @property
    def kept_rate(self) -> float | None:
        return 1 - self.escalated / self.handled if self.handled else None

    def rates(self) -> tuple[float | None, float | None, float | None]:
        return self.in_time_rate, self.well_received_rate, self.kept_rate


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """1 January to 1 January (Beijing) as aware UTC datetimes."""
    return (datetime(year, 1, 1, tzinfo=BEIJING).astimezone(UTC), datetime(year + 1, 1, 1, tzinfo=BEIJING)
            .astimezone(UTC))


def _score(result: DepartmentResult, settings: AssessSettings) -> None:
    pairs = [(w, r) for w, r in zip(settings.weights, result.rates(), strict=True) if r is not None]
    total = sum(w for w, _ in pairs)
    if not total:
        return
    result.score = round(100 * sum(w * r for w, r in pairs) / total, 1)
    for threshold, level in zip(settings.levels, LEVELS, strict=False):
        if result.score >= threshold:
            result.level = level
            break
    else:
        result.level = LEVELS[-1]


def assess(session: Session, year: int, settings: AssessSettings, now: datetime | None = None
           ) -> list[DepartmentResult]:
    """Every department's result for `year` (items received or first seen in that year), best score first."""
    now = now or utcnow()
    start, end = year_bounds(year)
    names = {d.id: d.name for d in session.scalars(select(Department))}
    out: dict[int, DepartmentResult] = {i: DepartmentResult(n) for i, n in names.items()}
    memo_after = {}
    for qid, created in session.execute(
        select(MemoItem.question_id, Memo.created_at).join(Memo, Memo.id == MemoItem.memo_id)
        .where(MemoItem.question_id.is_not(None))
    ):
        memo_after[qid] = min(created, memo_after.get(qid, created))
    for q in session.execute(
        select(Question.id, Question.department_id, Question.routed_at, Question.received_at,
               Question.published_at, Question.due_at, Question.rating)
        .where(Question.received_at >= start, Question.received_at < end, Question.status != REJECTED,
               Question.department_id.is_not(None))
    ):
        r = out.get(q.department_id)
        if r is None:
            continue
        r.board_items += 1
        if q.due_at is not None and (q.published_at is not None or q.due_at < now):
            r.due += 1
            r.on_time += q.published_at is not None and q.published_at <= q.due_at
        if q.rating:
            r.rated += 1
            r.satisfied += q.rating in SATISFIED
        if q.id in memo_after and memo_after[q.id] > (q.routed_at or q.received_at):
            r.escalated += 1
    credit = dict(zip(GRADES, settings.grade_credit, strict=True))
    for w in session.execute(
        select(WatchItem.department_id, WatchItem.assigned_at, WatchItem.answered_at, WatchItem.due_at,
               WatchItem.grade, WatchItem.major_at).where(
            WatchItem.first_seen_at >= start, WatchItem.first_seen_at < end, WatchItem.status.in_(HANDLED),
            WatchItem.department_id.is_not(None))
    ):
        r = out.get(w.department_id)
        if r is None:
            continue
        r.watch_items += 1
        if w.due_at is not None and (w.answered_at is not None or w.due_at < now):
            r.due += 1
            r.on_time += w.answered_at is not None and w.answered_at <= w.due_at
        if w.grade in credit:
            r.graded += 1
            r.grade_credit += credit[w.grade]
        if w.major_at is not None and w.assigned_at is not None and w.major_at > w.assigned_at:
            r.escalated += 1
    results = [r for r in out.values() if r.handled]
    for r in results:
        _score(r, settings)
    return sorted(results, key=lambda r: (-(r.score if r.score is not None else -1), r.name))


XLSX_HEADERS = ("部门", "本站留言", "监测信息", "应按时回应", "按时回应", "按时率", "评价数", "满意/好评折算",
                "认可率", "升级条数", "未升级率", "得分", "等次")


def xlsx_rows(results: list[DepartmentResult]) -> list[list]:
    """The results as spreadsheet rows (numbers stay numbers)."""
    def rate(v: float | None):
        return "" if v is None else round(v, 4)

    return [[r.name, r.board_items, r.watch_items, r.due, r.on_time, rate(r.in_time_rate), r.rated + r.graded,
             r.satisfied + r.grade_credit, rate(r.well_received_rate), r.escalated, rate(r.kept_rate),
             "" if r.score is None else r.score, r.level] for r in results]
