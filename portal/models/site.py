"""The site's single state row: the public content version (render cache, ETags) and the crisis switches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String
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


class PageChange(Base):
    """A public page (URL path) to write again into each server's static tree (portal/pagetree.py), from `due_at`.

    Written in the same transaction as the change it follows (a publication, an answer, a crisis switch), so a
    committed change is never left without its row; a scheduled update's pages get a row due at its publication
    time. `path` "*" stands for every page (a site-wide change). Each server's worker reads the rows that are
    due; rows are deleted a day later. `created_at` and `due_at` are UTC.
    """

    __tablename__ = "page_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(500))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # True: write the page even if the tree has no file for it yet (a page readers asked for, an incident page, a
    # feed, a list). False: only rewrite a file already there (a question page: there are thousands, and an import
    # must not make every worker write them all).
    create_file: Mapped[bool] = mapped_column(Boolean, default=True)
