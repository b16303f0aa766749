"""Citizens' questions and the departments' replies; the publication rules live here."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime
from portal.models.staff import Department, StaffUser
from portal.timeutil import utcnow

CATEGORIES = ("咨询", "建议", "投诉", "求助")

RECEIVED = "received"
REJECTED = "rejected"
ROUTED = "routed"
ANSWERED = "answered"
REVIEW = "review"
PUBLISHED = "published"
# The words a person reads, on the desk and on /track: each says what is happening now.
STATUS_LABELS = {
    RECEIVED: "已受理，待分办",
    REJECTED: "不予受理",
    ROUTED: "已转交部门办理",
    ANSWERED: "答复拟稿中",
    REVIEW: "答复审核中",
    PUBLISHED: "已答复",
}
MERGED_LABEL = "已合并办理"
REOPEN_FOLLOWUP = "followup"
REOPEN_REDO = "redo"
REOPEN_LABELS = {REOPEN_FOLLOWUP: "已答复，追问办理中", REOPEN_REDO: "已答复，重新办理中"}
OPEN_STATES = (RECEIVED, ROUTED, ANSWERED, REVIEW)

# Which state may follow which. A reply draft may be saved again (answered -> answered); the office may
# route a question again to another department while it is open. With review (审核) on, a responder's draft
# goes to the office (answered -> review), which publishes it or returns it for changes (review -> answered).
TRANSITIONS: dict[str, frozenset[str]] = {
    RECEIVED: frozenset({ROUTED, REJECTED, ANSWERED}),
    ROUTED: frozenset({ROUTED, REJECTED, ANSWERED, RECEIVED}),  # -> received: a department sends it back
    ANSWERED: frozenset({ANSWERED, ROUTED, PUBLISHED, REVIEW}),
    REVIEW: frozenset({ANSWERED, ROUTED, PUBLISHED}),
    REJECTED: frozenset(),
    PUBLISHED: frozenset(),
}

REJECT_REASONS = {
    "spam": "垃圾信息或广告",
    "abusive": "含有辱骂、攻击性内容",
    "duplicate": "重复留言",
    "out_of_scope": "不属于本地受理范围",
}

RATINGS = {"satisfied": "满意", "basically": "基本满意", "unsatisfied": "不满意"}


class Question(Base):
    """A citizen's question, from receipt to the published reply."""

    __tablename__ = "question"
    __table_args__ = (
        Index("ix_question_status_published", "status", "published_at"),
        Index("ix_question_fingerprint_received", "poster_fingerprint", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True, nullable=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(8), nullable=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), default=RECEIVED, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    tracking_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    contact: Mapped[str | None] = mapped_column(Text, nullable=True)
    poster_fingerprint: Mapped[str | None] = mapped_column(String(32), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    reject_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reject_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    rating: Mapped[str | None] = mapped_column(String(12), nullable=True)
    rating_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Hidden from the board (and search) by the office after publication; the reason stays on record.
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hidden_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)
    # The office's desk: major items (舆情抄告), duplicates merged into an earlier answered question, and the
    # time the department was told the question is overdue (so it is told once).
    is_major: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("question.id"), nullable=True, index=True)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Handling in steps: a published question reopened by the citizen's follow-up (追问) or by the office after a
    # 不满意 rating (重办) until the department's supplementary reply; approved extensions (延期) of the due time.
    reopen_kind: Mapped[str | None] = mapped_column(String(12), nullable=True)
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    extension_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Imported unanswered after its due time had passed (old records): kept as history, off the clock.
    imported_history: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    department: Mapped[Department | None] = relationship(lazy="joined")
    co_departments: Mapped[list[Department]] = relationship(
        secondary="question_codepartment", lazy="selectin", order_by="Department.id"
    )
    duplicate_of: Mapped[Question | None] = relationship(remote_side="Question.id", foreign_keys=[duplicate_of_id])
    reply: Mapped[Reply | None] = relationship(back_populates="question", uselist=False, lazy="selectin")

    @property
    def status_label(self) -> str:
        """What is happening now, in the words shown to staff and to the citizen."""
        if self.status == REJECTED and self.duplicate_of_id is not None:
            return MERGED_LABEL
        if self.status == PUBLISHED and self.reopen_kind in REOPEN_LABELS:
            return REOPEN_LABELS[self.reopen_kind]
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def reject_reason_label(self) -> str | None:
        """The public reason for 不予受理 (the office's note stays private)."""
        return REJECT_REASONS.get(self.reject_reason) if self.reject_reason else None

    @property
    def is_public(self) -> bool:
        """Only a question with a published reply, not hidden, is shown on the board and in search."""
        return (
            self.status == PUBLISHED
            and self.hidden_at is None
            and self.reply is not None
            and self.reply.published_at is not None
        )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    def may_become(self, status: str) -> bool:
        return status in TRANSITIONS.get(self.status, frozenset())

    def is_overdue(self, now: datetime | None = None) -> bool:
        """Open past its due time; imported history is off the clock (never overdue, never notified)."""
        if self.imported_history:
            return False
        return self.is_open and self.due_at is not None and (now or utcnow()) > self.due_at

    def is_due_soon(self, hours: int, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return (
            self.is_open
            and self.due_at is not None
            and now <= self.due_at <= now + timedelta(hours=hours)
        )

    @property
    def time_to_reply(self) -> timedelta | None:
        if self.reply is None or self.reply.published_at is None:
            return None
        return self.reply.published_at - self.received_at

    @property
    def rating_label(self) -> str | None:
        return RATINGS.get(self.rating) if self.rating else None

    def __repr__(self) -> str:
        return f"<Question {self.number} {self.status}>"


class Reply(Base):
    """The official reply to a question: a draft until published; shown with its department and date."""

    __tablename__ = "reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id"), unique=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Review (审核): when the responder sent the draft to the office, and the office's comment when it returned it.
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)

    question: Mapped[Question] = relationship(back_populates="reply")
    department: Mapped[Department | None] = relationship(lazy="joined")
    author: Mapped[StaffUser | None] = relationship()

    @property
    def answered_under(self) -> str | None:
        """The department's name when the reply was given (a later rename never rewrites history)."""
        if self.department is None:
            return None
        return self.department.name_at(self.published_at or self.created_at)
