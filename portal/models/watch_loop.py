"""Closing the loop on watched items: registered screen names, answers made on the platforms, notes, patrols."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Column, Date, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime
from portal.models.staff import Department, StaffUser
from portal.models.watch import WatchItem, WatchSource
from portal.timeutil import utcnow

# The life of a watched item, as for a question: received -> (dismissed | assigned) -> answered -> closed.
ITEM_PENDING = "pending"
ITEM_DISMISSED = "dismissed"
ITEM_ASSIGNED = "assigned"
ITEM_RESPONDED = "responded"
ITEM_CLOSED = "closed"
ITEM_STATUS_LABELS = {
    ITEM_PENDING: "待研判",
    ITEM_DISMISSED: "无需处置",
    ITEM_ASSIGNED: "已交办",
    ITEM_RESPONDED: "已回应",
    ITEM_CLOSED: "已办结",
}
ITEM_OPEN_STATES = (ITEM_PENDING, ITEM_ASSIGNED, ITEM_RESPONDED)
ITEM_TRANSITIONS: dict[str, frozenset[str]] = {
    ITEM_PENDING: frozenset({ITEM_DISMISSED, ITEM_ASSIGNED}),
    ITEM_ASSIGNED: frozenset({ITEM_ASSIGNED, ITEM_RESPONDED}),  # reassigned while no answer is on record
    ITEM_RESPONDED: frozenset({ITEM_RESPONDED, ITEM_CLOSED}),  # further answers; closing with a grade
    ITEM_DISMISSED: frozenset(),
    ITEM_CLOSED: frozenset(),
}
GRADES = ("好", "一般", "差")  # the office's grade of the answers, given when closing

# Departments that help the lead department (watch_item.department_id) with a cross-department item.
watch_item_codepartment = Table(
    "watch_item_codepartment",
    Base.metadata,
    Column("item_id", ForeignKey("watch_item.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("department.id"), primary_key=True),
)


class ScreenName(Base):
    """A screen name registered with the office (网名备案): a staff account's, or an official account of the office."""

    __tablename__ = "screen_name"
    __table_args__ = (UniqueConstraint("platform", "name", name="uq_screen_name_platform_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True, index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True, index=True)
    official: Mapped[bool] = mapped_column(Boolean, default=False)  # speaks in the bureau's name
    registered_on: Mapped[date] = mapped_column(Date)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    retired_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    staff_user: Mapped[StaffUser | None] = relationship(foreign_keys=[staff_user_id], lazy="joined")
    department: Mapped[Department | None] = relationship(lazy="joined")

    @property
    def active(self) -> bool:
        return self.retired_on is None

    @property
    def holder(self) -> str:
        if self.official:
            return "办公室（官方账号）"
        return self.staff_user.display_name or self.staff_user.username if self.staff_user else "—"


class WatchAnswer(Base):
    """An answer made on the outside platform under a registered screen name, with its link and time."""

    __tablename__ = "watch_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("watch_item.id", ondelete="CASCADE"), index=True)
    screen_name_id: Mapped[int] = mapped_column(ForeignKey("screen_name.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True)  # None: office
    url: Mapped[str] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    text: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # found deleted
    check_error: Mapped[str] = mapped_column(Text, default="")

    screen_name: Mapped[ScreenName] = relationship(lazy="joined")
    department: Mapped[Department | None] = relationship()
    recorded_by: Mapped[StaffUser | None] = relationship(foreign_keys=[recorded_by_id])


class WatchNote(Base):
    """A note on a watched item for staff only."""

    __tablename__ = "watch_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("watch_item.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[StaffUser | None] = relationship(lazy="joined")


class WatchPatrol(Base):
    """A source looked at by a person (巡查); finding nothing is an answer too (found = 0)."""

    __tablename__ = "watch_patrol"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("watch_source.id", ondelete="CASCADE"), index=True)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    found: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")

    source: Mapped[WatchSource] = relationship(lazy="joined")
    staff_user: Mapped[StaffUser | None] = relationship()


__all__ = ["ScreenName", "WatchAnswer", "WatchItem", "WatchNote", "WatchPatrol", "watch_item_codepartment"]
