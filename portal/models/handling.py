"""Handling a question in steps: interim replies, follow-ups, supplementary replies, send-backs (重办),
co-departments' opinions, and extensions of the due time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime
from portal.models.staff import Department, StaffUser
from portal.timeutil import utcnow

STEP_INTERIM = "interim"  # 阶段性答复: how handling is going, before the reply
STEP_FOLLOWUP = "followup"  # 追问: the citizen's one follow-up question after the reply
STEP_SUPPLEMENT = "supplement"  # 补充答复: the department's answer to a follow-up or a send-back
STEP_REDO = "redo"  # 重办: the office sends the question back to the department after a 不满意 rating
STEP_OPINION = "opinion"  # 协办意见: a co-department's opinion for the lead department (staff only)
STEP_LABELS = {
    STEP_INTERIM: "阶段性答复",
    STEP_FOLLOWUP: "网友追问",
    STEP_SUPPLEMENT: "补充答复",
    STEP_REDO: "办公室要求重新办理",
    STEP_OPINION: "协办意见",
}
PUBLIC_STEPS = (STEP_INTERIM, STEP_FOLLOWUP, STEP_SUPPLEMENT, STEP_REDO)

EXT_PENDING = "pending"
EXT_APPROVED = "approved"
EXT_REFUSED = "refused"
EXT_LABELS = {EXT_PENDING: "待办公室审批", EXT_APPROVED: "已批准", EXT_REFUSED: "未批准"}


class QuestionStep(Base):
    """One step of the handling thread, in order; the public kinds are shown on /track and the question page."""

    __tablename__ = "question_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Review (审核) of a responder's interim or supplementary reply: shown once published; returned with a note.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)

    department: Mapped[Department | None] = relationship(lazy="joined")
    author: Mapped[StaffUser | None] = relationship(lazy="joined")

    @property
    def label(self) -> str:
        return STEP_LABELS.get(self.kind, self.kind)

    @property
    def is_pending(self) -> bool:
        """Waiting for the office's review."""
        return self.published_at is None and self.review_note is None

    @property
    def is_returned(self) -> bool:
        """Returned by the office for changes (kept on record, never shown to the citizen)."""
        return self.published_at is None and self.review_note is not None

    @property
    def is_public(self) -> bool:
        return self.kind in PUBLIC_STEPS


class DueExtension(Base):
    """A department's request to move the due time (延期), with its public reason and the office's decision."""

    __tablename__ = "due_extension"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    working_days: Mapped[int] = mapped_column(Integer)
    old_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    new_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default=EXT_PENDING, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)

    department: Mapped[Department | None] = relationship(lazy="joined")
    requested_by: Mapped[StaffUser | None] = relationship(foreign_keys=[requested_by_id])

    @property
    def status_label(self) -> str:
        return EXT_LABELS.get(self.status, self.status)
