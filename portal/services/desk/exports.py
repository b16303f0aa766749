"""Large ledger exports in the background: a job row holds the state and progress (so any web worker, or any
server on the shared database, can answer for it), the background worker (portal/jobs.py) writes the file into the
export folder, and the finished file is downloaded by the member of staff who asked for it."""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy import update as sa_update
from sqlalchemy.orm import Session

from portal.errors import NotFound, ValidationFailed
from portal.models import Department, ExportJob, StaffUser
from portal.models.export import (
    EXPORT_ACTIVE,
    EXPORT_DONE,
    EXPORT_EXPIRED,
    EXPORT_FAILED,
    EXPORT_FORMATS,
    EXPORT_QUEUED,
    EXPORT_RUNNING,
)
from portal.models.question import RATINGS, STATUS_LABELS
from portal.models.watch_loop import ITEM_STATUS_LABELS
from portal.services import audit
from portal.services.desk import ledger
from portal.timeutil import to_beijing, utcnow

log = logging.getLogger(__name__)

# Rows between two progress writes (each is one small UPDATE and commit).
PROGRESS_EVERY = 250
# A running job whose heartbeat is older than this has lost its worker (killed, recycled): it is reported failed.
STALE_AFTER = timedelta(minutes=2)
INTERRUPTED = "导出中断（处理该任务的服务进程已停止），请重新导出。"
FAILED = "导出时出错，请重试；如果一再出错，请联系系统管理员。"


def start(session: Session, actor: StaffUser, filters: ledger.LedgerFilters, fmt: str, limit: int,
          now: datetime | None = None) -> tuple[ExportJob, bool]:
    """Queue an export of the filtered ledger (audited); the caller commits; the worker runs it.

    One export per person at a time: while one of theirs is still running, that job is returned instead
    (the second value is False)."""
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed({"format": "导出格式应为 CSV 或 Excel（XLSX）。"})
    now = now or utcnow()
    active = select(ExportJob).where(ExportJob.created_by_id == actor.id, ExportJob.status.in_(EXPORT_ACTIVE))
    for job in list(session.scalars(active)):
        if not _mark_if_stale(job, now):
            return job, False
    raw = {k: v for k, v in filters.raw.items() if v and k != "page"}
    job = ExportJob(
        kind="ledger", format=fmt, filters=json.dumps(raw, ensure_ascii=False, sort_keys=True),
        created_by_id=actor.id, status=EXPORT_QUEUED, rows_total=min(ledger.count(session, filters), limit),
        rows_done=0, download_name=f"ledger-{to_beijing(now):%Y%m%d-%H%M}.{fmt}", created_at=now, heartbeat_at=now,
    )
    session.add(job)
    session.flush()
    audit.record(session, actor, "ledger.export", "export_job", job.id, format=fmt, filters=raw,
                 rows=job.rows_total, background=True)
    return job, True


def _mark_if_stale(job: ExportJob, now: datetime) -> bool:
    """Mark a queued or running job whose heartbeat stopped as failed; True when it was."""
    if job.status in EXPORT_ACTIVE and now - job.heartbeat_at > STALE_AFTER:
        job.status = EXPORT_FAILED
        job.error = INTERRUPTED
        job.finished_at = now
        return True
    return False


def get_own(session: Session, user: StaffUser, job_id: int, now: datetime | None = None) -> ExportJob:
    """The user's job (NotFound for anyone else's); one whose worker died is reported failed from now on."""
    job = session.get(ExportJob, job_id)
    if job is None or job.created_by_id != user.id:
        raise NotFound("没有这个导出任务。")
    if _mark_if_stale(job, now or utcnow()):
        session.commit()
    return job


def recent(session: Session, user: StaffUser, limit: int = 5) -> list[ExportJob]:
    """The user's latest export jobs, newest first."""
    stmt = (select(ExportJob).where(ExportJob.created_by_id == user.id)
            .order_by(ExportJob.created_at.desc(), ExportJob.id.desc()).limit(limit))
    return list(session.scalars(stmt))


def message(job: ExportJob, keep_hours: int) -> str:
    """One sentence on where the job stands, for the page and its script."""
    if job.status == EXPORT_QUEUED:
        return "已排队，马上开始导出……"
    if job.status == EXPORT_RUNNING:
        return "正在导出，可以离开本页，稍后在台账页“最近的导出”中下载。"
    if job.status == EXPORT_DONE:
        return f"导出完成，共 {job.rows_done} 行。文件保留 {keep_hours} 小时。"
    if job.status == EXPORT_EXPIRED:
        return f"文件已超过 {keep_hours} 小时，已被清理，请重新导出。"
    return job.error or FAILED


def status(job: ExportJob, keep_hours: int) -> dict:
    """What the progress page shows, as JSON for its script."""
    return {
        "id": job.id, "status": job.status, "status_label": job.status_label, "format": job.format,
        "rows_done": job.rows_done, "rows_total": job.rows_total, "percent": job.percent,
        "done": job.status == EXPORT_DONE, "finished": not job.is_active, "message": message(job, keep_hours),
    }


FILTER_LABELS = {
    "since": "收到日期起", "until": "收到日期止", "department": "部门", "category": "类别", "status": "状态",
    "rating": "满意度", "major": "只看重大舆情", "channel": "渠道", "platform": "平台",
}


def describe_filters(session: Session, job: ExportJob) -> list[tuple[str, str]]:
    """The job's filters as (label, value) pairs in words, for its page."""
    raw = json.loads(job.filters or "{}")
    out = []
    for key, label in FILTER_LABELS.items():
        value = str(raw.get(key, ""))
        if not value:
            continue
        if key == "department":
            dept = session.get(Department, int(value)) if value.isdigit() else None
            value = dept.name if dept else value
        elif key == "status":
            value = STATUS_LABELS.get(value) or ITEM_STATUS_LABELS.get(value, value)
        elif key == "rating":
            value = "未评价" if value == "none" else RATINGS.get(value, value)
        elif key == "major":
            value = "是"
        out.append((label, value))
    return out


def file_path(job: ExportJob, export_dir: Path) -> Path:
    """The finished file; NotFound while it is not ready, or once it has been cleaned up."""
    if job.status != EXPORT_DONE or not job.file_name:
        raise NotFound("导出文件尚未生成或已过期。")
    path = Path(export_dir) / job.file_name
    if not path.is_file():
        raise NotFound("导出文件不在本服务器上或已被清理，请重新导出。")
    return path


def purge(session: Session, export_dir: Path, keep: timedelta, now: datetime | None = None) -> int:
    """Delete finished files older than `keep` (their jobs say 文件已过期); returns how many. The caller commits."""
    cutoff = (now or utcnow()) - keep
    old = session.scalars(select(ExportJob).where(ExportJob.status == EXPORT_DONE, ExportJob.finished_at < cutoff))
    count = 0
    for job in old:
        if job.file_name:
            (Path(export_dir) / job.file_name).unlink(missing_ok=True)
        job.status = EXPORT_EXPIRED
        job.file_name = None
        count += 1
    return count


def run(read: Session, write: Session, job_id: int, export_dir: Path, limit: int) -> bool:
    """Write the job's file, reading rows through `read` and committing progress through `write` (two sessions,
    so a progress commit never ends the read that streams the rows). The file appears under its final name only
    when complete. The job is claimed with one conditional UPDATE, so two worker threads never both run it;
    returns whether this call ran it."""
    claimed = write.execute(
        sa_update(ExportJob).where(ExportJob.id == job_id, ExportJob.status == EXPORT_QUEUED)
        .values(status=EXPORT_RUNNING, heartbeat_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount
    write.commit()
    job = write.get(ExportJob, job_id)
    if not claimed or job is None:
        return False
    export_dir = Path(export_dir)
    name = f"{job.id}-{secrets.token_hex(8)}.{job.format}"
    part = export_dir / (name + ".part")
    written = 0

    def counted(lines: Iterable[list]) -> Iterator[list]:
        nonlocal written
        for row in lines:
            yield row
            written += 1
            if written % PROGRESS_EVERY == 0:
                job.rows_done = min(written, job.rows_total)
                job.heartbeat_at = utcnow()
                write.commit()

    try:
        filters = ledger.parse_ledger_filters(read, json.loads(job.filters or "{}"))
        export_dir.mkdir(parents=True, exist_ok=True)
        lines = counted(ledger.export_rows(read, filters, limit))
        if job.format == "csv":
            with open(part, "w", encoding="utf-8", newline="") as text:
                ledger.write_csv(text, lines)
        else:
            with open(part, "wb") as binary:
                ledger.write_xlsx(binary, lines)
        os.replace(part, export_dir / name)
    except Exception as exc:  # any failure ends as a failed job with a message, never a job left running
        write.rollback()
        part.unlink(missing_ok=True)
        log.exception("export job %s failed", job_id)
        job.status = EXPORT_FAILED
        job.error = "；".join(exc.reasons.values()) if isinstance(exc, ValidationFailed) else FAILED
        job.finished_at = utcnow()
        write.commit()
        return True
    finally:
        read.rollback()
    # The count at the start may have grown meanwhile: the job reports what the file holds (the cap note aside).
    job.rows_total = job.rows_done = min(written, limit)
    job.status = EXPORT_DONE
    job.file_name = name
    job.finished_at = job.heartbeat_at = utcnow()
    write.commit()
    return True
