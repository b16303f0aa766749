"""Typed SQLAlchemy models, one file per aggregate."""

from portal.models.audit import AuditEntry
from portal.models.base import Base
from portal.models.bulletin import Incident, Update, UpdateEdition
from portal.models.delivery import Delivery
from portal.models.desk import InternalNote, Memo, MemoItem, Notification, ReplyTemplate
from portal.models.export import ExportJob
from portal.models.handling import DueExtension, QuestionStep
from portal.models.press import Attachment, Conference, DirectoryEntry, Release, ReleaseEdition
from portal.models.question import Question, Reply
from portal.models.report import Report
from portal.models.search import SearchOutbox
from portal.models.site import PageChange, SiteState
from portal.models.staff import Department, DepartmentName, StaffUser
from portal.models.subscription import Subscription
from portal.models.watch import (
    WatchAlertDelivery,
    WatchAlertedItem,
    WatchCapture,
    WatchCluster,
    WatchDepartmentChannel,
    WatchFetchLog,
    WatchItem,
    WatchMatch,
    WatchPlan,
    WatchSighting,
    WatchSource,
)
from portal.models.watch_loop import ScreenName, WatchAnswer, WatchNote, WatchPatrol

__all__ = [
    "Attachment", "AuditEntry", "Base", "Conference", "Delivery", "Department", "DepartmentName", "DirectoryEntry",
    "DueExtension", "ExportJob", "Incident", "InternalNote", "Memo", "MemoItem", "Notification", "Question",
    "PageChange", "QuestionStep", "Release", "ReleaseEdition", "Reply",
    "ReplyTemplate", "Report", "SearchOutbox", "SiteState", "StaffUser", "Subscription", "Update", "UpdateEdition",
    "WatchAlertDelivery", "WatchAlertedItem", "WatchCapture", "WatchCluster", "WatchDepartmentChannel",
    "WatchFetchLog", "WatchItem", "WatchMatch", "WatchPlan", "WatchSighting", "WatchSource", "ScreenName",
    "WatchAnswer", "WatchNote", "WatchPatrol",
]
