"""E-mail subscriptions to bulletins: all of them or one incident; double opt-in, one-click unsubscribe."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime
from portal.models.bulletin import Incident
from portal.timeutil import utcnow


class Subscription(Base):
    """One address's subscription; `incident_id` NULL means every bulletin."""

    __tablename__ = "subscription"
    __table_args__ = (Index("ix_subscription_email_incident", "email", "incident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), nullable=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    incident: Mapped[Incident | None] = relationship()

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None
