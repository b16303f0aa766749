"""The search outbox: one row per question whose index entry must be written or removed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, UTCDateTime
from portal.timeutil import utcnow


class SearchOutbox(Base):
    """Written in the same transaction as the change; drained by the one indexer, then deleted."""

    __tablename__ = "search_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
