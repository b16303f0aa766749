"""Monthly statistics per department: received, answered, reply rate, on-time rate, median time to reply,
satisfaction rate; trends over months; the skeleton of the monthly summary (月度舆情小结)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import timeutil
from portal.errors import ValidationFailed
from portal.models import Department, Memo, Question
from portal.models.question import REJECTED
from portal.timeutil import month_range, to_beijing

UNASSIGNED = "未分办"
SATISFIED = ("satisfied", "basically")
MONTH_MESSAGE = "月份格式应为 2026-11 这样的“年-月”（1990-2100 年）。"


@dataclass
class Figures:
    """The figures of one department (or of everyone) in one period."""

    name: str
    received: int = 0
    answered: int = 0
    on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    extended: int = 0  # questions whose due time the office extended (延期); on time counts against the new one
    hours: list[float] = field(default_factory=list, repr=False)

    def add(self, row) -> None:
        self.received += 1
        replied = row.published_at
        if replied is not None:
            self.answered += 1
            self.hours.append(max(0.0, (replied - row.received_at).total_seconds() / 3600))
            if row.due_at is not None and replied <= row.due_at:
                self.on_time += 1
        if row.extension_count:
            self.extended += 1
        if row.rating:
            self.rated += 1
            if row.rating in SATISFIED:
                self.satisfied += 1

    @property
    def reply_rate(self) -> float | None:
        return self.answered / self.received if self.received else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.answered if self.answered else None

    @property
    def satisfaction_rate(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None

    @property
    def median_hours(self) -> float | None:
        return statistics.median(self.hours) if self.hours else None


@dataclass
class MonthStats:
    """One month: a row per department and the total."""

    month: str
    departments: list[Figures]
    total: Figures


def parse_month(text: str | None) -> str | None:
    """A valid YYYY-MM (1990-2100) or None for empty; ValidationFailed otherwise."""
    text = (text or "").strip()
    if not text:
        return None
    if timeutil.parse_month(text) is None:
        raise ValidationFailed({"month": MONTH_MESSAGE})
    return text


def _rows(session: Session, start: datetime, end: datetime):
    stmt = (
        select(Question.received_at, Question.published_at, Question.due_at, Question.rating,
               Question.extension_count, Department.name)
        .outerjoin(Department, Department.id == Question.department_id)
        .where(Question.received_at >= start, Question.received_at < end, Question.status != REJECTED)
    )
    return session.execute(stmt.execution_options(yield_per=1000))


def month_stats(session: Session, month: str) -> MonthStats:
    """Figures for the questions received in the Beijing calendar month `month`."""
    start, end = month_range(month)
    by_dept: dict[str, Figures] = {}
    total = Figures("合计")
    for row in _rows(session, start, end):
        name = row.name or UNASSIGNED
        by_dept.setdefault(name, Figures(name)).add(row)
        total.add(row)
    departments = sorted(by_dept.values(), key=lambda f: (-f.received, f.name))
    return MonthStats(month, departments, total)


def months_with_questions(session: Session) -> list[str]:
    """Every month (YYYY-MM, newest first) from the first question to the last, that has questions."""
    first, last = session.execute(
        select(func.min(Question.received_at), func.max(Question.received_at)).where(Question.status != REJECTED)
    ).one()
    if first is None:
        return []
    if first.tzinfo is None:  # aggregates bypass the column type
        first, last = first.replace(tzinfo=UTC), last.replace(tzinfo=UTC)
    counts = trend(session, month_key(first), month_key(last))
    return [f.name for f in reversed(counts) if f.received]


def month_key(value: datetime) -> str:
    return to_beijing(value).strftime("%Y-%m")


def add_months(month: str, n: int) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + (mon - 1) + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def trend(session: Session, first: str, last: str) -> list[Figures]:
    """One Figures per month from `first` to `last` (inclusive), named by month; at most 240 months."""
    months = [first]
    while months[-1] < last and len(months) < 240:
        months.append(add_months(months[-1], 1))
    start, _ = month_range(months[0])
    _, end = month_range(months[-1])
    out = {m: Figures(m) for m in months}
    for row in _rows(session, start, end):
        key = month_key(row.received_at)
        if key in out:
            out[key].add(row)
    return list(out.values())


def percent(value: float | None) -> str:
    """0.9234 -> '92.3%'; None -> '—'."""
    return "—" if value is None else f"{value * 100:.1f}%"


def hours_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def summary_text(session: Session, month: str, office_name: str) -> str:
    """The skeleton of the written monthly summary (月度舆情小结), as Markdown text to finish by hand."""
    stats = month_stats(session, month)
    t = stats.total
    start, end = month_range(month)
    memos = list(session.scalars(
        select(Memo).where(Memo.created_at >= start, Memo.created_at < end).order_by(Memo.year, Memo.seq)
    ))
    year, mon = month.split("-")
    lines = [
        f"# {office_name} {year}年{int(mon)}月网络舆情小结", "",
        "## 一、总体情况", "",
        f"本月共收到网民留言 {t.received} 条，已答复 {t.answered} 条，答复率 {percent(t.reply_rate)}；"
        f"按时答复率 {percent(t.on_time_rate)}（经批准延期 {t.extended} 条，按延期后的时间计），"
        f"答复用时中位数 {hours_text(t.median_hours)} 小时；"
        f"网民评价 {t.rated} 条，满意率 {percent(t.satisfaction_rate)}。", "",
        "## 二、各部门办理情况", "",
        "| 部门 | 收到 | 已答复 | 答复率 | 按时率 | 延期 | 用时中位数（小时） | 满意率 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in stats.departments:
        lines.append(f"| {f.name} | {f.received} | {f.answered} | {percent(f.reply_rate)} | "
                     f"{percent(f.on_time_rate)} | {f.extended} | {hours_text(f.median_hours)} | "
                     f"{percent(f.satisfaction_rate)} |")
    lines += _watch_lines(session, month)
    lines += ["", "## 四、重大舆情及抄告情况", ""]
    if memos:
        for memo in memos:
            dept = memo.department.name if memo.department else "（未指定）"
            lines.append(f"- {memo.number} {memo.title}（{dept}，{memo.status_label}，涉及留言 {len(memo.items)} 条）")
    else:
        lines.append("本月无重大舆情抄告。")
    lines += ["", "## 五、存在的问题", "", "（待填写）", "", "## 六、下步工作", "", "（待填写）", ""]
    return "\n".join(lines)


def _watch_lines(session: Session, month: str) -> list[str]:
    """The summary's part on watched items (other platforms): stories counted once, then per platform."""
    from portal.services.desk.channels import month_figures  # channels builds on this module

    w = month_figures(session, month)
    t = w.total
    lines = [
        "", "## 三、其他平台舆情回应情况", "",
        f"本月在其他平台发现并交办需回应的舆情 {t.received} 起（同一事件多平台转载计为一起），已回应 {t.answered} 起，"
        f"按时回应率 {percent(t.on_time_rate)}，回应用时中位数 {hours_text(t.median_hours)} 小时。", "",
        "| 平台 | 事件 | 已回应 | 按时率 | 用时中位数（小时） |", "|---|---|---|---|---|",
    ]
    for f in w.platforms:
        lines.append(f"| {f.name} | {f.received} | {f.answered} | {percent(f.on_time_rate)} | "
                     f"{hours_text(f.median_hours)} |")
    return lines
