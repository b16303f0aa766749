"""Background exports (the ledger's large CSV/XLSX files): the job's state is a row, so any web worker can answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime
from portal.models.staff import StaffUser
from portal.timeutil import utcnow

EXPORT_QUEUED = "queued"
EXPORT_RUNNING = "running"
EXPORT_DONE = "done"
EXPORT_FAILED = "failed"
EXPORT_EXPIRED = "expired"
EXPORT_STATUS_LABELS = {
    EXPORT_QUEUED: "排队中",
    EXPORT_RUNNING: "正在导出",
    EXPORT_DONE: "已完成",
    EXPORT_FAILED: "导出失败",
    EXPORT_EXPIRED: "文件已过期",
}
EXPORT_ACTIVE = (EXPORT_QUEUED, EXPORT_RUNNING)
EXPORT_FORMATS = {"csv": "CSV", "xlsx": "Excel（XLSX）"}


class ExportJob(Base):
    """One export run in the background: who asked, what (format and filters as typed), how far it got, the file."""

    __tablename__ = "export_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="ledger")
    format: Mapped[str] = mapped_column(String(8))
    filters: Mapped[str] = mapped_column(Text, default="")  # JSON: the filters' text as the user typed them
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default=EXPORT_QUEUED, index=True)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    # The finished file's name inside the export folder (random, never typed by a user) and the name offered.
    file_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    download_name: Mapped[str] = mapped_column(String(100), default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written with every progress step: a running job whose heartbeat stops (its worker died) is reported failed.
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    created_by: Mapped[StaffUser] = relationship(lazy="joined")

    @property
    def status_label(self) -> str:
        return EXPORT_STATUS_LABELS.get(self.status, self.status)

    @property
    def format_label(self) -> str:
        return EXPORT_FORMATS.get(self.format, self.format)

    @property
    def is_active(self) -> bool:
        return self.status in EXPORT_ACTIVE

    @property
    def percent(self) -> int:
        """Whole per cent of the rows written (100 once done, whatever the count)."""
        if self.status == EXPORT_DONE:
            return 100
        if self.rows_total <= 0:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)
