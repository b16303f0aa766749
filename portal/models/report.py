"""Citizens' reports of a published item (one per client and item)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, UTCDateTime
from portal.timeutil import utcnow

REPORT_REASONS = {
    "privacy": "泄露个人隐私",
    "abusive": "辱骂、攻击性内容",
    "false": "内容不实",
    "illegal": "违法违规信息",
    "other": "其他",
}


class Report(Base):
    """A report that a published question or reply should not be shown; the fingerprint is the client's HMAC."""

    __tablename__ = "report"
    __table_args__ = (UniqueConstraint("question_id", "fingerprint", name="uq_report_question_fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
