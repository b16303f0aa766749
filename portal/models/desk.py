"""The office's desk: co-departments, internal notes, reply templates, notifications and forwarding memos."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime
from portal.models.question import Question
from portal.models.staff import Department, StaffUser
from portal.models.watch import WatchItem
from portal.timeutil import utcnow

# Departments that help the lead department (question.department_id) with a cross-department question.
question_codepartment = Table(
    "question_codepartment",
    Base.metadata,
    Column("question_id", ForeignKey("question.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("department.id"), primary_key=True),
)


class InternalNote(Base):
    """A note on a question for staff only; never shown publicly."""

    __tablename__ = "internal_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[StaffUser | None] = relationship(lazy="joined")


class ReplyTemplate(Base):
    """A reusable reply text of one department (or of the office, when department_id is empty)."""

    __tablename__ = "reply_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True, index=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department: Mapped[Department | None] = relationship(lazy="joined")


NOTICE_ROUTED = "routed"
NOTICE_OVERDUE = "overdue"
NOTICE_RETURNED = "returned"
NOTICE_REVIEW = "review"  # a responder's reply waits for the office's review
NOTICE_REVIEWED = "reviewed"  # the office returned a reply for changes
NOTICE_EXTENSION = "extension"  # an extension was asked for, or decided
NOTICE_UNSATISFIED = "unsatisfied"  # a citizen rated the reply 不满意
NOTICE_FOLLOWUP = "followup"  # a citizen's follow-up question, or the office's send-back (重办)
NOTICE_STEP = "step"  # an interim or supplementary reply, a co-department's opinion
NOTICE_LABELS = {
    NOTICE_ROUTED: "新转交", NOTICE_OVERDUE: "已超时", NOTICE_RETURNED: "退回办公室", NOTICE_REVIEW: "待审核答复",
    NOTICE_REVIEWED: "答复退回修改", NOTICE_EXTENSION: "延期", NOTICE_UNSATISFIED: "网友不满意",
    NOTICE_FOLLOWUP: "追问/重办", NOTICE_STEP: "办理进展",
}


class Notification(Base):
    """A notice to a department (or to the office when department_id is empty), shown on screen and mailed."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_department_read", "department_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True)
    question_id: Mapped[int | None] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), nullable=True)
    watch_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("watch_item.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    mail_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    department: Mapped[Department | None] = relationship(lazy="joined")
    question: Mapped[Question | None] = relationship()
    watch_item: Mapped[WatchItem | None] = relationship()

    @property
    def kind_label(self) -> str:
        return NOTICE_LABELS.get(self.kind, self.kind)


MEMO_DRAFT = "draft"
MEMO_SENT = "sent"
MEMO_DONE = "done"
MEMO_STATUS_LABELS = {MEMO_DRAFT: "待报送", MEMO_SENT: "已报送，待批示", MEMO_DONE: "已办结"}
MEMO_NEXT = {MEMO_DRAFT: MEMO_SENT, MEMO_SENT: MEMO_DONE}


class Memo(Base):
    """A numbered forwarding memo (网络舆情抄告单) about one or several related major items."""

    __tablename__ = "memo"
    __table_args__ = (UniqueConstraint("year", "seq", name="uq_memo_year_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    suggestion: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default=MEMO_DRAFT, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    department: Mapped[Department | None] = relationship(lazy="joined")
    created_by: Mapped[StaffUser | None] = relationship()
    items: Mapped[list[MemoItem]] = relationship(
        back_populates="memo", order_by="MemoItem.position", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def number(self) -> str:
        """The memo's number as printed: 〔2026〕第 7 号."""
        return f"〔{self.year}〕第{self.seq}号"

    @property
    def status_label(self) -> str:
        return MEMO_STATUS_LABELS.get(self.status, self.status)


class MemoItem(Base):
    """One item on a memo: a board question or a watched item (exactly one of the two)."""

    __tablename__ = "memo_item"
    __table_args__ = (
        UniqueConstraint("memo_id", "question_id", name="uq_memo_item_memo_question"),
        UniqueConstraint("memo_id", "watch_item_id", name="uq_memo_item_memo_watch_item"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    memo_id: Mapped[int] = mapped_column(ForeignKey("memo.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int | None] = mapped_column(ForeignKey("question.id"), nullable=True, index=True)
    watch_item_id: Mapped[int | None] = mapped_column(ForeignKey("watch_item.id"), nullable=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    memo: Mapped[Memo] = relationship(back_populates="items")
    question: Mapped[Question | None] = relationship(lazy="joined")
    watch_item: Mapped[WatchItem | None] = relationship(lazy="joined")
