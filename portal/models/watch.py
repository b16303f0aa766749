"""Watching other platforms (舆情监测): sources, fetch log, watched items and their clusters, plans, alerts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime
from portal.models.staff import Department, StaffUser
from portal.timeutil import utcnow

if TYPE_CHECKING:
    from portal.models.watch_loop import WatchAnswer, WatchNote

PLATFORMS = ("论坛", "新闻网站", "微博", "微信公众号", "短视频", "政务留言板", "其他")
REGIONS = ("本地", "周边地区", "同行业")
SEVERITIES = ("一般", "较大", "重大")
SEVERITY_RANK = {"": 0, "一般": 1, "较大": 2, "重大": 3}

OUTCOME_NEW = "ok"
OUTCOME_NOT_MODIFIED = "not_modified"
OUTCOME_ERROR = "error"
OUTCOME_LABELS = {OUTCOME_NEW: "成功", OUTCOME_NOT_MODIFIED: "未变化（304）", OUTCOME_ERROR: "失败"}

DELIVERY_QUEUED = "queued"
DELIVERY_SENT = "sent"
DELIVERY_FAILED = "failed"  # gave up after the last attempt
DELIVERY_LABELS = {DELIVERY_QUEUED: "待发送", DELIVERY_SENT: "已发送", DELIVERY_FAILED: "发送失败"}
ALERT_IMMEDIATE = "immediate"
ALERT_DIGEST = "digest"

CAPTURE_PENDING = "pending"
CAPTURE_DONE = "done"
CAPTURE_FAILED = "failed"  # gave up: the error is shown on the watch desk
CAPTURE_LABELS = {CAPTURE_PENDING: "等待抓取", CAPTURE_DONE: "已抓取", CAPTURE_FAILED: "抓取失败"}


class WatchSource(Base):
    """A place the office watches: a feed (RSS, Atom, JSON Feed, RSSHub route) or a site patrolled by hand."""

    __tablename__ = "watch_source"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str] = mapped_column(String(20), default="其他")
    generator: Mapped[str] = mapped_column(String(40), default="")  # discuz, rsshub-weibo, django, hugo ...
    region: Mapped[str] = mapped_column(String(10), default="本地")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True, index=True)
    feed_url: Mapped[str | None] = mapped_column(Text, nullable=True)  # None: patrolled by hand
    html_url: Mapped[str] = mapped_column(Text, default="")
    interval_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: the default
    extract_selector: Mapped[str] = mapped_column(String(200), default="")  # CSS selector for pasted pages
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Fetch state: validators kept verbatim, the schedule, and health.
    etag: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_modified: Mapped[str | None] = mapped_column(Text, nullable=True)
    body_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    next_fetch_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    server_min_seconds: Mapped[int] = mapped_column(Integer, default=0)  # Cache-Control, Expires, RSS ttl
    adaptive_minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_new_item_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    usual_gap_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)  # smoothed gap between new items
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)

    department: Mapped[Department | None] = relationship(lazy="joined")

    @property
    def by_hand(self) -> bool:
        return not self.feed_url


class WatchFetchLog(Base):
    """One fetch attempt: when, what came back, how long, how many new items, and what went wrong."""

    __tablename__ = "watch_fetch_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("watch_source.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    new_items: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    warnings: Mapped[str] = mapped_column(Text, default="")

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome, self.outcome)


class WatchCluster(Base):
    """One story: the items that are near-duplicates of each other (转载), across platforms."""

    __tablename__ = "watch_cluster"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(4), default="")
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # the immediate push, once

    items: Mapped[list[WatchItem]] = relationship(back_populates="cluster", order_by="WatchItem.first_seen_at")


class WatchItem(Base):
    """A post or article seen on a watched source, stored once however many sources carry it."""

    __tablename__ = "watch_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("watch_source.id"), index=True)  # where it was first seen
    guid_key: Mapped[str | None] = mapped_column(String(512), nullable=True, unique=True)
    url_key: Mapped[str | None] = mapped_column(String(512), nullable=True, index=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(Text, default="")
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")  # plain text, HTML reduced and cleaned
    text_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    author: Mapped[str] = mapped_column(String(200), default="")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    claimed_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # a future date
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("watch_cluster.id"), nullable=True, index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True, index=True)
    severity: Mapped[str] = mapped_column(String(4), default="", index=True)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    by_hand: Mapped[bool] = mapped_column(Boolean, default=False)
    snapshot: Mapped[str] = mapped_column(Text, default="")  # evidence text of a page pasted by hand
    # Handling (models/watch_loop.py): the same states and clock as a question.
    status: Mapped[str] = mapped_column(String(12), default="pending", server_default="pending", index=True)
    dismiss_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # the first answer
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    grade: Mapped[str] = mapped_column(String(4), default="", server_default="")  # 好 / 一般 / 差
    major_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # when it became 重大
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # found deleted
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    source: Mapped[WatchSource] = relationship(lazy="joined")
    department: Mapped[Department | None] = relationship()
    cluster: Mapped[WatchCluster | None] = relationship(back_populates="items")
    sightings: Mapped[list[WatchSighting]] = relationship(back_populates="item", order_by="WatchSighting.seen_at")
    matches: Mapped[list[WatchMatch]] = relationship(back_populates="item")
    co_departments: Mapped[list[Department]] = relationship(
        secondary="watch_item_codepartment", lazy="selectin", order_by="Department.id"
    )
    answers: Mapped[list[WatchAnswer]] = relationship(order_by="WatchAnswer.answered_at", lazy="selectin")
    notes: Mapped[list[WatchNote]] = relationship(order_by="WatchNote.created_at")

    @property
    def status_label(self) -> str:
        from portal.models.watch_loop import ITEM_STATUS_LABELS

        return ITEM_STATUS_LABELS.get(self.status, self.status)


class WatchSighting(Base):
    """An item seen on one source (the same GUID or URL on two sources: one item, two sightings)."""

    __tablename__ = "watch_sighting"
    __table_args__ = (UniqueConstraint("item_id", "source_id", name="uq_watch_sighting_item_source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("watch_item.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("watch_source.id", ondelete="CASCADE"), index=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    url: Mapped[str] = mapped_column(Text, default="")

    item: Mapped[WatchItem] = relationship(back_populates="sightings")
    source: Mapped[WatchSource] = relationship(lazy="joined")


class WatchPlan(Base):
    """A watch plan (监测方案): word lists with a Boolean rule, a scope, a severity and where to alert."""

    __tablename__ = "watch_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    any_words: Mapped[str] = mapped_column(Text, default="")  # one word a line
    must_words: Mapped[str] = mapped_column(Text, default="")
    exclude_words: Mapped[str] = mapped_column(Text, default="")
    fields: Mapped[str] = mapped_column(String(40), default="title,text,author")
    source_ids: Mapped[str] = mapped_column(Text, default="")  # comma-separated; empty: every source
    platforms: Mapped[str] = mapped_column(Text, default="")
    regions: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(4), default="一般")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), nullable=True)
    alert_urls: Mapped[str] = mapped_column(Text, default="")  # Apprise URLs, one a line
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department: Mapped[Department | None] = relationship(lazy="joined")

    def words(self, kind: str) -> list[str]:
        """The plan's `any`, `must` or `exclude` words as a list."""
        raw = {"any": self.any_words, "must": self.must_words, "exclude": self.exclude_words}[kind]
        return [w for w in (line.strip() for line in raw.splitlines()) if w]

    def channel_urls(self) -> list[str]:
        return [u for u in (line.strip() for line in self.alert_urls.splitlines()) if u]


class WatchMatch(Base):
    """An item matched by a plan, with the words that matched."""

    __tablename__ = "watch_match"
    __table_args__ = (UniqueConstraint("item_id", "plan_id", name="uq_watch_match_item_plan"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("watch_item.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("watch_plan.id", ondelete="CASCADE"), index=True)
    words: Mapped[str] = mapped_column(Text, default="")  # comma-separated
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    item: Mapped[WatchItem] = relationship(back_populates="matches")
    plan: Mapped[WatchPlan] = relationship(lazy="joined")


class WatchDepartmentChannel(Base):
    """A department's alert channels (Apprise URLs, one a line)."""

    __tablename__ = "watch_department_channel"

    department_id: Mapped[int] = mapped_column(ForeignKey("department.id", ondelete="CASCADE"), primary_key=True)
    alert_urls: Mapped[str] = mapped_column(Text, default="")


class WatchAlertDelivery(Base):
    """One alert or digest to one channel, with its delivery state (as for mail): queued, sent, failed."""

    __tablename__ = "watch_alert_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # immediate | digest
    channel: Mapped[str] = mapped_column(Text)  # the Apprise URL
    channel_key: Mapped[str] = mapped_column(String(64), index=True)  # its hash: what "one channel" means
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("watch_cluster.id"), nullable=True)
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default=DELIVERY_QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def status_label(self) -> str:
        return DELIVERY_LABELS.get(self.status, self.status)


class WatchAlertedItem(Base):
    """An item already told to a channel: never the same item twice to one channel."""

    __tablename__ = "watch_alerted_item"
    __table_args__ = (UniqueConstraint("channel_key", "item_id", name="uq_watch_alerted_item_channel_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_key: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[int] = mapped_column(ForeignKey("watch_item.id", ondelete="CASCADE"), index=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("watch_alert_delivery.id", ondelete="CASCADE"))


class WatchCapture(Base):
    """A page a commentator found by hand and pasted: fetched in the background, kept as a text snapshot."""

    __tablename__ = "watch_capture"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    url_key: Mapped[str] = mapped_column(String(512), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("watch_source.id", ondelete="CASCADE"), index=True)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(10), default=CAPTURE_PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    final_url: Mapped[str] = mapped_column(Text, default="")
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("watch_item.id", ondelete="SET NULL"), nullable=True)

    source: Mapped[WatchSource] = relationship(lazy="joined")
    item: Mapped[WatchItem | None] = relationship()
    submitted_by: Mapped[StaffUser | None] = relationship()

    @property
    def status_label(self) -> str:
        return CAPTURE_LABELS.get(self.status, self.status)
