"""The press room: press releases (with editions and attachments), press conferences and the spokesperson directory.

Publication rules mirror the bulletins: a release is visible once `publish_at` has passed; a correction is a new
edition with a public change note, never a silent edit; a withdrawal keeps the page at its URL with a notice and
the reason (the text is no longer shown). A removed attachment keeps its row, so its URL can answer 410 Gone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, ForeignKey, Index, Integer, String, Text, and_, exists, not_, or_, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime
from portal.models.bulletin import Incident, Update, visible_update
from portal.models.staff import Department, StaffUser
from portal.timeutil import utcnow

# URL segment -> label; the segment is also the feed path (/news/<type>/feed.rss).
RELEASE_TYPES = {"news": "新闻稿", "rumour": "辟谣", "notice": "通知公告", "policy": "政策解读"}
RUMOUR = "rumour"

IMAGE = "image"
DOCUMENT = "document"


class Release(Base):
    """A press release (新闻稿 / 辟谣 / 通知公告 / 政策解读); its text is the newest of its editions."""

    __tablename__ = "press_release"
    __table_args__ = (Index("ix_press_release_type_publish", "type", "publish_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    # Topic tags separated by commas (each ≤ 20 characters); filtered with a LIKE on ",tag,".
    topics: Mapped[str] = mapped_column(String(300), default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), nullable=True)
    # A rumour rebuttal: the rumour as it circulates; the body states the facts.
    rumour_md: Mapped[str] = mapped_column(Text, default="")
    rumour_html: Mapped[str] = mapped_column(Text, default="")
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    author_title: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    publish_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    edition: Mapped[int] = mapped_column(Integer, default=1)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # E-mail and WebSub for the current edition went out at this time; NULL = pending (as for bulletin updates).
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)

    department: Mapped[Department | None] = relationship()
    incident: Mapped[Incident | None] = relationship()
    author: Mapped[StaffUser | None] = relationship()
    editions: Mapped[list[ReleaseEdition]] = relationship(
        back_populates="release", order_by="ReleaseEdition.number", lazy="selectin"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="release", order_by="Attachment.id", lazy="selectin"
    )

    def is_visible(self, now: datetime | None = None) -> bool:
        return self.publish_at <= (now or utcnow()) and not self.is_cancelled

    @property
    def is_cancelled(self) -> bool:
        """Withdrawn before its time: never published, never shown, fed or mailed."""
        return self.withdrawn_at is not None and self.withdrawn_at < self.publish_at

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    @property
    def type_label(self) -> str:
        return RELEASE_TYPES.get(self.type, self.type)

    @property
    def is_rumour(self) -> bool:
        return self.type == RUMOUR

    @property
    def topic_list(self) -> list[str]:
        return [t for t in self.topics.strip(",").split(",") if t]

    @property
    def corrections(self) -> list[ReleaseEdition]:
        return [e for e in self.editions if e.number > 1]

    @property
    def current_attachments(self) -> list[Attachment]:
        """Attachments not removed (removed ones stay as rows so their URLs answer 410)."""
        return [a for a in self.attachments if a.removed_at is None]

    @property
    def images(self) -> list[Attachment]:
        return [a for a in self.current_attachments if a.kind == IMAGE]

    @property
    def documents(self) -> list[Attachment]:
        return [a for a in self.current_attachments if a.kind == DOCUMENT]

    def __repr__(self) -> str:
        return f"<Release {self.slug} ed.{self.edition}>"


def visible_release(now: datetime) -> ColumnElement[bool]:
    """SQL for `Release.is_visible(now)`: due, and not withdrawn before its time."""
    return and_(
        Release.publish_at <= now, or_(Release.withdrawn_at.is_(None), Release.withdrawn_at >= Release.publish_at)
    )


class ReleaseEdition(Base):
    """An immutable version of a release; a correction adds one with a public change note."""

    __tablename__ = "press_release_edition"
    __table_args__ = (Index("ix_press_release_edition_release_number", "release_id", "number", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("press_release.id"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    rumour_md: Mapped[str] = mapped_column(Text, default="")
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    change_note: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    release: Mapped[Release] = relationship(back_populates="editions")


class Attachment(Base):
    """A file attached to a release, stored under a random name outside the static folder."""

    __tablename__ = "press_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("press_release.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    mime: Mapped[str] = mapped_column(String(100))
    # The name offered for download: the uploader's name, cleaned, with the extension of the real type.
    filename: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    rendition_name: Mapped[str | None] = mapped_column(String(80), nullable=True)
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
    caption: Mapped[str] = mapped_column(String(200), default="")
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Removed by staff: the stored file is deleted after the commit and the URL answers 410 Gone.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    release: Mapped[Release] = relationship(back_populates="attachments")


class Conference(Base):
    """A press conference (新闻发布会) on the public calendar and in the iCalendar feed."""

    __tablename__ = "press_conference"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(200))
    livestream_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    spokesperson: Mapped[str] = mapped_column(String(100), default="")
    description_md: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), nullable=True)
    release_id: Mapped[int | None] = mapped_column(ForeignKey("press_release.id"), nullable=True)
    # Bumped on every change: the iCalendar SEQUENCE, so subscribed calendars take the new version.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)

    incident: Mapped[Incident | None] = relationship()
    release: Mapped[Release | None] = relationship()
    # The 新闻发布会预告 on the incident's timeline (one, when the conference belongs to an incident).
    notices: Mapped[list[Update]] = relationship(back_populates="conference", order_by="Update.id")

    @property
    def anchor(self) -> str:
        return f"conference-{self.id}"

    @property
    def was_changed(self) -> bool:
        """Changed after it was announced (time, place …): the pages say so."""
        return self.sequence > 0 and self.cancelled_at is None


def public_conference(now: datetime) -> ColumnElement[bool]:
    """SQL: a conference is public unless its notice on an incident's timeline is not (yet) visible."""
    return not_(exists(select(Update.id).where(Update.conference_id == Conference.id, not_(visible_update(now)))))


class DirectoryEntry(Base):
    """Who to call: a department's spokesperson or press contact, kept by the admin."""

    __tablename__ = "press_directory_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(100))
    office_phone: Mapped[str] = mapped_column(String(50))
    duty_hours: Mapped[str] = mapped_column(String(100), default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department: Mapped[Department] = relationship()
