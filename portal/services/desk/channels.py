"""Statistics over watched items next to the board's: per month, per platform and per department; a story (a
cluster of reposts) counted once, and once per platform where it appeared."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Department, WatchItem, WatchSighting, WatchSource
from portal.models.watch_loop import ITEM_ASSIGNED, ITEM_CLOSED, ITEM_RESPONDED
from portal.services.desk.stats import Figures, add_months, month_key
from portal.timeutil import month_range

HANDLED = (ITEM_ASSIGNED, ITEM_RESPONDED, ITEM_CLOSED)
OFFICE = "办公室"
MARGIN = timedelta(days=40)  # reposts join a story within the clustering window (30 days)


@dataclass
class Story:
    """One story: its items (reposts), when it was first seen, its first answer, due time, platforms."""

    key: str
    first_seen_at: datetime
    items: list = field(default_factory=list)
    platforms: set[str] = field(default_factory=set)

    @property
    def handled(self) -> list:
        return sorted((i for i in self.items if i.status in HANDLED), key=lambda i: (i.assigned_at, i.id))

    @property
    def answered_at(self) -> datetime | None:
        times = [i.answered_at for i in self.items if i.answered_at is not None]
        return min(times) if times else None

    @property
    def due_at(self) -> datetime | None:
        times = [i.due_at for i in self.items if i.due_at is not None]
        return min(times) if times else None

    @property
    def department(self) -> str:
        lead = self.handled[0] if self.handled else None
        return (lead.department_name or OFFICE) if lead else OFFICE

    def as_row(self) -> SimpleNamespace:
        """The story in the shape stats.Figures.add reads (received, answered, due; no board rating and no
        extension, which only board questions have)."""
        return SimpleNamespace(received_at=self.first_seen_at, published_at=self.answered_at, due_at=self.due_at,
                               rating=None, extension_count=0)


def stories(session: Session, start: datetime, end: datetime) -> list[Story]:
    """The stories first seen in [start, end) that the office took up (assigned, answered or closed)."""
    rows = session.execute(
        select(WatchItem.id, WatchItem.cluster_id, WatchItem.first_seen_at, WatchItem.answered_at, WatchItem.due_at,
               WatchItem.assigned_at, WatchItem.status, WatchItem.grade, WatchItem.severity, WatchItem.major_at,
               Department.name.label("department_name"), WatchSource.platform)
        .join(WatchSource, WatchSource.id == WatchItem.source_id)
        .outerjoin(Department, Department.id == WatchItem.department_id)
        .where(WatchItem.first_seen_at >= start - MARGIN, WatchItem.first_seen_at < end + MARGIN)
    ).all()
    seen_on: dict[int, set[str]] = {}
    ids = [r.id for r in rows]
    for chunk in range(0, len(ids), 500):
        for item_id, platform in session.execute(
            select(WatchSighting.item_id, WatchSource.platform)
            .join(WatchSource, WatchSource.id == WatchSighting.source_id)
            .where(WatchSighting.item_id.in_(ids[chunk:chunk + 500]))
        ):
            seen_on.setdefault(item_id, set()).add(platform)
    by_key: dict[str, Story] = {}
    for r in rows:
        key = f"c{r.cluster_id}" if r.cluster_id else f"i{r.id}"
        story = by_key.setdefault(key, Story(key, r.first_seen_at))
        story.first_seen_at = min(story.first_seen_at, r.first_seen_at)
        story.items.append(r)
        story.platforms |= seen_on.get(r.id, set()) | {r.platform}
    return sorted((s for s in by_key.values() if start <= s.first_seen_at < end and s.handled),
                  key=lambda s: s.first_seen_at)


@dataclass
class WatchMonth:
    """One month of watched stories: the total, a row per platform, a row per department."""

    month: str
    total: Figures
    platforms: list[Figures]
    departments: list[Figures]


def month_figures(session: Session, month: str) -> WatchMonth:
    """The month's watched stories: counted once in the total, once per platform where they appeared."""
    start, end = month_range(month)
    total = Figures("合计（按事件）")
    by_platform: dict[str, Figures] = {}
    by_dept: dict[str, Figures] = {}
    for story in stories(session, start, end):
        row = story.as_row()
        total.add(row)
        for platform in sorted(story.platforms):
            by_platform.setdefault(platform, Figures(platform)).add(row)
        by_dept.setdefault(story.department, Figures(story.department)).add(row)
    order = lambda f: (-f.received, f.name)  # noqa: E731
    return WatchMonth(month, total, sorted(by_platform.values(), key=order), sorted(by_dept.values(), key=order))


def trend(session: Session, first: str, last: str) -> list[Figures]:
    """One Figures of watched stories per month from `first` to `last`, named by month."""
    months = [first]
    while months[-1] < last and len(months) < 240:
        months.append(add_months(months[-1], 1))
    out = {m: Figures(m) for m in months}
    start, _ = month_range(months[0])
    _, end = month_range(months[-1])
    for story in stories(session, start, end):
        key = month_key(story.first_seen_at)
        if key in out:
            out[key].add(story.as_row())
    return list(out.values())


def combined(board: list[Figures], watched: list[Figures]) -> list[Figures]:
    """Month by month, both channels together (the office's month-by-month chart)."""
    out = []
    for b, w in zip(board, watched, strict=True):
        f = Figures(b.name, received=b.received + w.received, answered=b.answered + w.answered,
                    on_time=b.on_time + w.on_time, rated=b.rated, satisfied=b.satisfied)
        f.hours = b.hours + w.hours
        out.append(f)
    return out
