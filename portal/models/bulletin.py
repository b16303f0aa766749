"""Incident bulletins: an incident, its timeline of updates, and every edition of each update.

Publication rules live here: an update is visible once `publish_at` has passed (so a scheduled update needs
no background job to appear); a correction is a new edition with a public change note; a withdrawal keeps
the text on the page with a notice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime
from portal.models.question import Question
from portal.models.staff import StaffUser
from portal.timeutil import utcnow

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

    incident: Mapped[Incident] = relationship(back_populates="updates")
    author: Mapped[StaffUser | None] = relationship()
    editions: Mapped[list[UpdateEdition]] = relationship(
        back_populates="update", order_by="UpdateEdition.number", lazy="selectin"
    )
    questions: Mapped[list[Question]] = relationship(secondary=update_question, order_by="Question.id")

    def is_visible(self, now: datetime | None = None) -> bool:
        return self.publish_at <= (now or utcnow())

    @property
    def is_scheduled(self) -> bool:
        return not self.is_visible()

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
