"""Incident bulletins: an incident, its timeline of updates, and every edition of each update.

Publication rules live here: an update is visible once `publish_at` has passed (so a scheduled update needs
no background job to appear); a correction is a new edition with a public change note; a withdrawal keeps
the text on the page with a notice, except for a scheduled update withdrawn before its time: it is cancelled
and never shown. A 情况通报 with an automatic title takes its number (（第N次通报）) when it is published.
"""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Column, ColumnElement, ForeignKey, Index, Integer, String, Table, Text, and_, false, or_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime
from portal.models.question import Question
from portal.models.staff import StaffUser
from portal.timeutil import utcnow

if TYPE_CHECKING:
    from portal.models.press import Conference

ONGOING = "ongoing"
CONTAINED = "contained"
CLOSED = "closed"
INCIDENT_STATUSES = {ONGOING: "进行中", CONTAINED: "已控制", CLOSED: "已结束"}
# Active incidents are listed first, in this order.
STATUS_ORDER = {ONGOING: 0, CONTAINED: 1, CLOSED: 2}

SEVERITIES = {
    "1": "Ⅰ级（特别重大）",
    "2": "Ⅱ级（重大）",
    "3": "Ⅲ级（较大）",
    "4": "Ⅳ级（一般）",
}

KIND_UPDATE = "update"
KIND_PRESS = "press"
UPDATE_KINDS = {KIND_UPDATE: "情况通报", KIND_PRESS: "新闻发布会预告"}


update_question = Table(
    "update_question",
    Base.metadata,
    Column("update_id", ForeignKey("bulletin_update.id", ondelete="CASCADE"), primary_key=True),
    Column("question_id", ForeignKey("question.id", ondelete="CASCADE"), primary_key=True),
)


class Incident(Base):
    """An incident (突发事件) with its status, severity and the promised time of the next update."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=ONGOING, index=True)
    severity: Mapped[str] = mapped_column(String(4), default="4")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary_md: Mapped[str] = mapped_column(Text, default="")
    summary_html: Mapped[str] = mapped_column(Text, default="")
    next_update_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)

    updates: Mapped[list[Update]] = relationship(
        back_populates="incident", order_by="Update.publish_at.desc(), Update.id.desc()"
    )

    @property
    def status_label(self) -> str:
        return INCIDENT_STATUSES.get(self.status, self.status)

    @property
    def severity_label(self) -> str:
        return SEVERITIES.get(self.severity, self.severity)

    @property
    def is_active(self) -> bool:
        return self.status != CLOSED

    def next_update_overdue(self, now: datetime | None = None) -> bool:
        """The promised next update is late (only while the incident is active)."""
        return self.is_active and self.next_update_due_at is not None and (now or utcnow()) > self.next_update_due_at

    def visible_updates(self, now: datetime | None = None) -> list[Update]:
        """Updates the public may see, newest first."""
        now = now or utcnow()
        return [u for u in self.updates if u.is_visible(now)]

    def bulletin_numbers(self) -> dict[int, int]:
        """Update id -> N of （第N次通报）, for the 情况通报 of this timeline (see `number_timeline`)."""
        key = tuple((u.id, u.kind, u.publish_at, u.withdrawn_at) for u in self.updates)
        cached = self.__dict__.get("_numbers")
        if cached is None or cached[0] != key:
            cached = (key, number_timeline(self.updates))
            self.__dict__["_numbers"] = cached
        return cached[1]

    def __repr__(self) -> str:
        return f"<Incident {self.slug} {self.status}>"


class Update(Base):
    """One entry in an incident's timeline; its text is the newest of its editions."""

    __tablename__ = "bulletin_update"
    __table_args__ = (Index("ix_bulletin_update_incident_publish", "incident_id", "publish_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    kind: Mapped[str] = mapped_column(String(10), default=KIND_UPDATE)
    title: Mapped[str] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    author_title: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Visible from this moment: "now" for an immediate publication, a future time for a scheduled one.
    publish_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The time of the newest public change (publication, correction or withdrawal): the feeds' <updated>.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    edition: Mapped[int] = mapped_column(Integer, default=1)
    press_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    press_place: Mapped[str | None] = mapped_column(String(200), nullable=True)
    livestream_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # E-mail and WebSub for the current edition went out at this time; NULL = pending.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    # The title was left empty: it reads "<incident>（第N次通报）", N taken when the update is published.
    numbered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A press notice is the timeline's side of a conference of the press room (the calendar, .ics).
    conference_id: Mapped[int | None] = mapped_column(ForeignKey("press_conference.id"), nullable=True, index=True)

    incident: Mapped[Incident] = relationship(back_populates="updates")
    conference: Mapped[Conference | None] = relationship(back_populates="notices")
    author: Mapped[StaffUser | None] = relationship()
    editions: Mapped[list[UpdateEdition]] = relationship(
        back_populates="update", order_by="UpdateEdition.number", lazy="selectin"
    )
    questions: Mapped[list[Question]] = relationship(secondary=update_question, order_by="Question.id")

    def is_visible(self, now: datetime | None = None) -> bool:
        return self.publish_at <= (now or utcnow()) and not self.is_cancelled

    @property
    def is_cancelled(self) -> bool:
        """Withdrawn before its time: it was never published and is never shown, fed or mailed."""
        return self.withdrawn_at is not None and self.withdrawn_at < self.publish_at

    @property
    def is_scheduled(self) -> bool:
        return not self.is_cancelled and not self.is_visible()

    @property
    def number(self) -> int | None:
        """N of （第N次通报） for a 情况通报 (provisional while it is scheduled); None for other kinds."""
        return self.incident.bulletin_numbers().get(self.id)

    @property
    def heading(self) -> str:
        """The title as shown everywhere: an automatic title carries the bulletin's number."""
        if self.numbered and self.kind == KIND_UPDATE and self.number is not None:
            return f"{self.title}（第{self.number}次通报）"
        return self.title

    @property
    def is_press(self) -> bool:
        return self.kind == KIND_PRESS

    @property
    def kind_label(self) -> str:
        return UPDATE_KINDS.get(self.kind, self.kind)

    @property
    def corrections(self) -> list[UpdateEdition]:
        """Editions after the first: each carries its public change note (更正)."""
        return [e for e in self.editions if e.number > 1]

    @property
    def anchor(self) -> str:
        return f"update-{self.id}"

    def __repr__(self) -> str:
        return f"<Update {self.id} ed.{self.edition}>"


def visible_update(now: datetime) -> ColumnElement[bool]:
    """SQL for `Update.is_visible(now)`: due, and not withdrawn before its time."""
    return and_(Update.publish_at <= now, or_(Update.withdrawn_at.is_(None), Update.withdrawn_at >= Update.publish_at))


def number_timeline(updates: list[Update]) -> dict[int, int]:
    """Number the 情况通报 of one incident in publication order.

    Press notices and cancelled updates take no number. An update follows the highest number among the 情况通报
    published before it that were not withdrawn at its own publication (1 when there is none). So a number
    depends only on what happened before it was published (it is fixed from then on), withdrawn bulletins stop
    counting, and no two bulletins standing at the same time share a number. One pass with two heaps.
    """
    ordered = sorted(
        (u for u in updates if u.kind == KIND_UPDATE and not u.is_cancelled), key=lambda u: (u.publish_at, u.id)
    )
    numbers: dict[int, int] = {}
    standing: set[int] = set()
    highest: list[tuple[int, int]] = []  # (-number, id): a max-heap, entries of withdrawn ones dropped lazily
    expiring: list[tuple[datetime, int]] = []  # (withdrawn_at, id)
    for update in ordered:
        while expiring and expiring[0][0] <= update.publish_at:
            standing.discard(heapq.heappop(expiring)[1])
        while highest and highest[0][1] not in standing:
            heapq.heappop(highest)
        number = 1 - highest[0][0] if highest else 1
        numbers[update.id] = number
        standing.add(update.id)
        heapq.heappush(highest, (-number, update.id))
        if update.withdrawn_at is not None:
            heapq.heappush(expiring, (update.withdrawn_at, update.id))
    return numbers


class UpdateEdition(Base):
    """An immutable version of an update; a correction adds one with a public change note."""

    __tablename__ = "bulletin_update_edition"
    __table_args__ = (Index("ix_bulletin_update_edition_update_number", "update_id", "number", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    update_id: Mapped[int] = mapped_column(ForeignKey("bulletin_update.id"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    change_note: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    update: Mapped[Update] = relationship(back_populates="editions")
