"""Typed SQLAlchemy models, one file per aggregate."""

from portal.models.audit import AuditEntry
from portal.models.base import Base
from portal.models.bulletin import Incident, Update, UpdateEdition
from portal.models.desk import InternalNote, Memo, MemoItem, Notification, ReplyTemplate
from portal.models.question import Question, Reply
from portal.models.search import SearchOutbox
from portal.models.site import SiteState
from portal.models.staff import Department, StaffUser
from portal.models.subscription import Subscription

__all__ = [
    "AuditEntry", "Base", "Department", "Incident", "InternalNote", "Memo", "MemoItem", "Notification", "Question",
    "Reply", "ReplyTemplate", "SearchOutbox", "SiteState", "StaffUser", "Subscription", "Update", "UpdateEdition",
]
