"""The ledger (台账): every item with its times, department, category, status and rating; streamed exports."""

from __future__ import annotations

import heapq
import itertools
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import Session

from portal import sheets
from portal import text as door
from portal.errors import ValidationFailed
from portal.models import Department, Question
from portal.models.desk import question_codepartment
from portal.models.question import RATINGS, STATUS_LABELS
from portal.models.watch import PLATFORMS
from portal.models.watch_loop import ITEM_STATUS_LABELS
from portal.numbers import parse_positive_int
from portal.services.board import listing
from portal.services.desk import ledger_watch
from portal.sheets import ID, NUMBER, TIME, Column

COLUMNS = (
    Column("留言编号", ID), Column("标题"), Column("类别"), Column("牵头部门"), Column("协办部门"), Column("状态"),
    Column("收到时间", TIME), Column("转交时间", TIME), Column("答复时间", TIME), Column("公开时间", TIME),
    Column("应答复时间", TIME), Column("是否按时"), Column("用时（小时）", NUMBER), Column("满意度"),
    Column("重大舆情"), Column("合并至", ID), Column("渠道"), Column("平台"),
)
HEADERS = tuple(c.header for c in COLUMNS)
FILTER_NAMES = ("since", "until", "department", "category", "status", "rating", "major", "channel", "platform",
                "page")
CHANNELS = (ledger_watch.BOARD_CHANNEL, *PLATFORMS)
PAGE_SIZE = 100
FETCH_CHUNK = 500


@dataclass
class LedgerFilters(listing.ItemFilters):
    """The ledger's filters, validated; dates are Beijing calendar days (inclusive)."""

    status: str | None = None
    rating: str | None = None
    major: bool = False
    channel: str | None = None
    platform: str | None = None
    page: int = 1


def parse_ledger_filters(session: Session, args: Mapping[str, str]) -> LedgerFilters:
    """Validate the query string; ValidationFailed (Chinese messages) for anything wrong."""
    out = LedgerFilters(raw={k: str(args.get(k, ""))[:100] for k in FILTER_NAMES})
    reasons: dict[str, str] = {}
    listing.parse_item_filters(session, out, reasons)
    if out.raw["status"]:
        if out.raw["status"] in STATUS_LABELS or out.raw["status"] in ITEM_STATUS_LABELS:
            out.status = out.raw["status"]
        else:
            reasons["status"] = "没有这个办理状态。"
    if out.raw["rating"]:
        if out.raw["rating"] in RATINGS or out.raw["rating"] == "none":
            out.rating = out.raw["rating"]
        else:
            reasons["rating"] = "满意度应为满意、基本满意、不满意或未评价。"
    out.major = out.raw["major"] in ("1", "on", "true")
    if out.raw["channel"]:
        if out.raw["channel"] in CHANNELS:
            out.channel = out.raw["channel"]
        else:
            reasons["channel"] = "没有这个渠道。"
    out.platform = door.clean_line(out.raw["platform"]) or None
    if out.raw["page"]:
        page = parse_positive_int(out.raw["page"], 99999)
        if page is None:
            reasons["page"] = "页码应为正整数。"
        else:
            out.page = page
    if reasons:
        raise ValidationFailed(reasons)
    return out


def _statement(filters: LedgerFilters) -> Select:
    stmt = select(
        Question.id, Question.number, Question.title, Question.category, Department.name, Question.status,
        Question.received_at, Question.routed_at, Question.answered_at, Question.published_at, Question.due_at,
        Question.rating, Question.is_major, Question.duplicate_of_id,
    ).outerjoin(Department, Department.id == Question.department_id)
    stmt = listing.where_item_filters(stmt, filters)
    if filters.status:
        stmt = stmt.where(Question.status == filters.status)
    if filters.rating == "none":
        stmt = stmt.where(Question.rating.is_(None))
    elif filters.rating:
        stmt = stmt.where(Question.rating == filters.rating)
    if filters.major:
        stmt = stmt.where(Question.is_major.is_(True))
    if (filters.channel and filters.channel != ledger_watch.BOARD_CHANNEL) or (
        filters.platform and filters.platform != ledger_watch.BOARD_PLATFORM
    ) or (filters.status and filters.status not in STATUS_LABELS):
        stmt = stmt.where(false())
    return stmt.order_by(Question.received_at, Question.id)


def _co_departments(session: Session) -> dict[int, list[str]]:
    rows = session.execute(
        select(question_codepartment.c.question_id, Department.name)
        .join(Department, Department.id == question_codepartment.c.department_id)
        .order_by(Department.id)
    )
    out: dict[int, list[str]] = {}
    for qid, name in rows:
        out.setdefault(qid, []).append(name)
    return out


def _row(r, co: dict[int, list[str]], numbers: dict[int, str]) -> tuple[datetime, int, list[sheets.Value]]:
    answered = r.published_at
    on_time = "" if answered is None or r.due_at is None else ("是" if answered <= r.due_at else "否")
    hours = None if answered is None else round((answered - r.received_at).total_seconds() / 3600, 1)
    cells = [
        r.number or "", r.title, r.category or "", r.name or "", "、".join(co.get(r.id, [])),
        STATUS_LABELS.get(r.status, r.status), r.received_at, r.routed_at, r.answered_at,
        r.published_at, r.due_at, on_time, hours, RATINGS.get(r.rating, "") if r.rating else "",
        "是" if r.is_major else "", numbers.get(r.duplicate_of_id, "") if r.duplicate_of_id else "",
        ledger_watch.BOARD_CHANNEL, ledger_watch.BOARD_PLATFORM,
    ]
    return r.received_at, 0, cells


def _merged(session: Session, filters: LedgerFilters, limit: int) -> Iterator[list[sheets.Value]]:
    """Both channels' rows merged by received / first-seen time, each side fetched in chunks."""
    co = _co_departments(session)
    merged = select(Question.duplicate_of_id).where(Question.duplicate_of_id.is_not(None))
    numbers = dict(session.execute(select(Question.id, Question.number).where(Question.id.in_(merged))).all())
    board = (_row(r, co, numbers) for r in session.execute(
        _statement(filters).limit(limit).execution_options(yield_per=FETCH_CHUNK)))
    watch_co = ledger_watch.co_departments(session) if ledger_watch.wants_watch(filters) else {}
    watched = (ledger_watch.row(r, watch_co) for r in session.execute(
        ledger_watch.statement(filters).limit(limit).execution_options(yield_per=FETCH_CHUNK)))
    for n, (_at, _side, cells) in enumerate(heapq.merge(board, watched, key=lambda t: (t[0], t[1]))):
        if n >= limit:
            return
        yield cells


def rows(session: Session, filters: LedgerFilters, limit: int) -> Iterator[list[sheets.Value]]:
    """The ledger's rows (both channels) as typed cells (times, hours as a number, text), fetched in chunks (never
    all in memory), at most `limit` of them."""
    yield from _merged(session, filters, limit)


def page(session: Session, filters: LedgerFilters) -> tuple[list[list[str]], bool]:
    """One page of the ledger for the screen (text cells), and whether there is a next page."""
    offset = (filters.page - 1) * PAGE_SIZE
    found = list(itertools.islice(_merged(session, filters, offset + PAGE_SIZE + 1), offset, None))
    return [sheets.text_row(COLUMNS, row) for row in found[:PAGE_SIZE]], len(found) > PAGE_SIZE


def count(session: Session, filters: LedgerFilters) -> int:
    """How many items of both channels match the filters (before any export cap)."""
    stmt = _statement(filters).order_by(None).subquery()
    return int(session.scalar(select(func.count()).select_from(stmt)) or 0) + ledger_watch.count(session, filters)


def cap_note(limit: int) -> str:
    return f"（已达导出上限 {limit} 行，后面的记录未导出，请缩小日期范围后分批导出。）"


def export_rows(session: Session, filters: LedgerFilters, limit: int) -> Iterator[list[sheets.Value]]:
    """The rows of an export: at most `limit`, then one row with the cap note when more matched."""
    for n, row in enumerate(rows(session, filters, limit + 1), start=1):
        yield [cap_note(limit)] if n > limit else row


def csv_chunks(session: Session, filters: LedgerFilters, limit: int) -> Iterator[str]:
    """The ledger as CSV text (UTF-8 with BOM for spreadsheet programs), chunk by chunk (portal.sheets)."""
    return sheets.csv_chunks(COLUMNS, export_rows(session, filters, limit))


def write_csv(handle: IO[str], lines: Iterable[list[sheets.Value]]) -> None:
    """The header and `lines` as CSV into a text file opened with newline="" (as streamed)."""
    sheets.write_csv(handle, COLUMNS, lines)


def write_xlsx(handle: IO[bytes], lines: Iterable[list[sheets.Value]]) -> None:
    """The header and `lines` as an XLSX workbook: typed cells, frozen bold header, filter (portal.sheets)."""
    sheets.write_xlsx(handle, "台账", COLUMNS, lines)


def xlsx_file(session: Session, filters: LedgerFilters, limit: int) -> IO[bytes]:
    """The ledger as an XLSX workbook in a temporary file."""
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    write_xlsx(handle, export_rows(session, filters, limit))
    handle.seek(0)
    return handle
