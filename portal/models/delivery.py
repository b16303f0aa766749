"""Deliveries: one row per (announcement, recipient), for mail and WebSub pings, with its own state.

A publication (or a notice, an answer, a confirmation) is fanned out into delivery rows in one transaction; the
worker claims due rows in small batches, sends them, and records each outcome. The row, not the worker's memory,
holds the truth, so a worker killed mid-batch loses nothing and re-sends at most the batch it had in flight.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, UTCDateTime
from portal.timeutil import utcnow

CHANNEL_MAIL = "mail"
CHANNEL_PING = "ping"
CHANNELS = (CHANNEL_MAIL, CHANNEL_PING)

QUEUED = "queued"
SENDING = "sending"  # claimed by a worker; back to queued when its lease runs out (the worker died)
SENT = "sent"
BOUNCED = "bounced"  # a permanent refusal (5xx) of this one recipient
FAILED = "failed"  # given up: retries exhausted, or nothing to send any more (withdrawn, superseded)
STATES = (QUEUED, SENDING, SENT, BOUNCED, FAILED)
STATE_LABELS = {QUEUED: "排队中", SENDING: "发送中", SENT: "已发送", BOUNCED: "退信", FAILED: "失败"}

# What a delivery announces (subject_type): the renderer that builds its message is chosen by it.
SUBJECT_UPDATE = "update"
SUBJECT_RELEASE = "release"
SUBJECT_ANSWER = "answer"
SUBJECT_NOTICE = "notice"
SUBJECT_CONFIRM = "confirm"


class Delivery(Base):
    """One message (or ping) to one recipient about one thing (`topic`, e.g. ``update:12:2`` = edition 2)."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("topic", "channel", "recipient", name="uq_delivery_topic_channel_recipient"),
        Index("ix_delivery_state_next", "state", "next_attempt_at"),
        Index("ix_delivery_subject", "subject_type", "subject_id"),
        Index("ix_delivery_claim", "claim"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    topic: Mapped[str] = mapped_column(String(80))
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    edition: Mapped[int] = mapped_column(Integer, default=1)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscription.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # The address (mail) or the feed URL (ping). Empty for a citizen's answer mail: the address is read from the
    # question at send time, so purging contact details also stops an unsent mail and no copy is kept here.
    recipient: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str] = mapped_column(String(12), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)
