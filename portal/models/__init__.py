"""Typed SQLAlchemy models, one file per aggregate."""

from portal.models.audit import AuditEntry
from portal.models.base import Base
from portal.models.desk import InternalNote, Memo, MemoItem, Notification, ReplyTemplate
from portal.models.question import Question, Reply
from portal.models.search import SearchOutbox
from portal.models.staff import Department, StaffUser

__all__ = [
    "AuditEntry", "Base", "Department", "InternalNote", "Memo", "MemoItem", "Notification", "Question", "Reply",
    "ReplyTemplate", "SearchOutbox", "StaffUser",
]
