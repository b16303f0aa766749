"""E-mail subscriptions: all bulletins, one incident's, or press releases; double opt-in, one-click unsubscribe."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime
from portal.models.bulletin import Incident
from portal.timeutil import utcnow

KIND_BULLETINS = "bulletins"
KIND_RELEASES = "releases"
SUBSCRIPTION_KINDS = (KIND_BULLETINS, KIND_RELEASES)


class Subscription(Base):
    """One address's subscription: bulletins (`incident_id` NULL: every one) or every press release."""

    __tablename__ = "subscription"
    __table_args__ = (Index("ix_subscription_email_incident", "email", "incident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(16), default=KIND_BULLETINS, server_default=KIND_BULLETINS)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), nullable=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Permanent refusals (5xx) since the last delivered message; at the limit the subscription is suspended
    # (no more mail) until the admin lifts it.
    bounce_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_bounce: Mapped[str | None] = mapped_column(String(500), nullable=True)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    incident: Mapped[Incident | None] = relationship()

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None and self.suspended_at is None

    @property
    def what(self) -> str:
        """What is subscribed to, for mails and pages: 全部突发事件通报 / 事件“…”的通报 / 新闻发布稿件."""
        if self.kind == KIND_RELEASES:
            return "全部新闻发布稿件"
        return f"事件“{self.incident.title}”的通报" if self.incident else "全部突发事件通报"
