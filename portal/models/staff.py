"""Departments and staff accounts."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime
from portal.timeutil import utcnow

ROLE_ADMIN = "admin"
ROLE_OFFICE = "office"
ROLE_RESPONDER = "responder"
ROLE_SPOKESPERSON = "spokesperson"
ROLES = {
    ROLE_ADMIN: "系统管理员",
    ROLE_OFFICE: "办公室",
    ROLE_RESPONDER: "部门答复人",
    ROLE_SPOKESPERSON: "新闻发言人",
}


class Department(Base):
    """A department that answers questions (县交通运输局 …); `active` False = retired (撤销) or merged."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The last rename: answers given since then show the current name without reading the history.
    renamed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Merged into another department: its staff, open questions and templates moved there; its answers stay its own.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True)

    # Both load only when read (departments are joined into most question queries; these are rarely needed).
    merged_into: Mapped[Department | None] = relationship(remote_side="Department.id")
    former_names: Mapped[list[DepartmentName]] = relationship(
        back_populates="department", order_by="DepartmentName.used_until"
    )

    def name_at(self, when: datetime | None) -> str:
        """The name the department had at `when` (its current name when it was not renamed since)."""
        if when is not None and self.renamed_at is not None and when < self.renamed_at:
            for old in self.former_names:
                if when < old.used_until and (old.used_from is None or when >= old.used_from):
                    return old.name
        return self.name

    @property
    def state_label(self) -> str:
        if self.merged_into is not None:
            return f"已并入{self.merged_into.name}"
        return "在用" if self.active else "已撤销"

    def __repr__(self) -> str:
        return f"<Department {self.slug}>"


class DepartmentName(Base):
    """A name a department had before a rename, with the time it was used until (history keeps it)."""

    __tablename__ = "department_name"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    used_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    used_until: Mapped[datetime] = mapped_column(UTCDateTime)

    department: Mapped[Department] = relationship(back_populates="former_names")


def new_session_token() -> str:
    """A fresh per-user session token; rotating it signs the user out everywhere."""
    return secrets.token_urlsafe(32)


class StaffUser(UserMixin, Base):
    """A staff account. `get_id()` returns the session token, so rotating it ends every session."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Where the department's notices are mailed (optional); the TOTP secret (a Fernet token, PORTAL_TOTP_KEYS) and
    # the last time step whose code was accepted (a code is accepted once: RFC 6238 section 5.2).
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    totp_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    department: Mapped[Department | None] = relationship(lazy="joined")

    def get_id(self) -> str:
        return self.session_token

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active)

    @property
    def role_title(self) -> str:
        return ROLES.get(self.role, self.role)

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    def __repr__(self) -> str:
        return f"<StaffUser {self.username} {self.role}>"
