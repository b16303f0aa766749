"""The site's single state row: the public content version (render cache, ETags) and the crisis switches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, UTCDateTime


class SiteState(Base):
    """One row (id=1). `version` is bumped in the same transaction as any change to public content."""

    __tablename__ = "site_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    crisis_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    intake_paused: Mapped[bool] = mapped_column(Boolean, default=False)
