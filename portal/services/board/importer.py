"""Importing questions from JSON Lines (idempotent on external_id).

Every text passes the text door (portal/text.py), and a bad line (not UTF-8, not JSON, a missing or invisible text,
an unknown department) is reported by number while the others are imported.

Departments are found by name, slug or former name (a merged one's open questions go to its successor); names
the portal does not know are reported with their line numbers, and a map (unknown name -> department, or empty for
"the office routes it") lets the same file be imported again. An unanswered question already past its due time is
an old record: it is imported as history, off the clock, and fires no overdue notice.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import text
from portal.errors import ValidationFailed
from portal.markup import render_markdown
from portal.models import Department, Question, Reply
from portal.models.question import CATEGORIES, PUBLISHED, RECEIVED
from portal.search.indexer import enqueue as enqueue_for_search
from portal.services import audit
from portal.services.board import departments
from portal.services.board.questions import assign_number
from portal.services.clock import DueRule
from portal.timeutil import parse_local, utcnow

FIELDS = ("title", "body", "asked_at", "department", "category", "reply", "replied_at", "external_id")
BATCH = 500


@dataclass
class ImportResult:
    """Counts of one import run, with the line numbers and reasons of invalid lines."""

    imported: int = 0
    skipped: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)
    history: int = 0
    # Unknown department name -> the line numbers that named it.
    unknown_departments: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class _Row:
    lineno: int
    external_id: str
    title: str
    body: str
    asked_at: object
    department: Department | None
    category: str | None
    reply: str
    replied_at: object


class UnknownDepartment(ValueError):
    """A line names a department the portal does not know (and the map does not name)."""

    def __init__(self, name: str):
        super().__init__(f"未知部门：{name}（可用 --map 文件对应到现有部门）")
        self.name = name


def _parse(lineno: int, line: str | bytes, find_department: Callable[[str, bool], Department | None]) -> _Row:
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"不是有效的 UTF-8 文本（第 {exc.start + 1} 个字节起）") from exc
    if lineno == 1:
        line = line.removeprefix("\ufeff")  # a byte-order mark some editors write
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"不是有效的 JSON：{exc.msg}") from exc
    if not isinstance(obj, dict):
        raise ValueError("每行应为一个 JSON 对象")
    values = {k: obj.get(k) or "" for k in FIELDS}
    for key, value in values.items():
        if not isinstance(value, str):
            raise ValueError(f"字段 {key} 应为字符串")
        values[key] = text.clean_line(value)
    external_id = values["external_id"]
    title = values["title"]
    body = values["body"]
    if text.is_blank(external_id) or len(external_id) > 100:
        raise ValueError("缺少 external_id（或超过 100 个字符）")
    if text.is_blank(title) or len(title) > 200:
        raise ValueError("标题为空（或只有不可见字符）或超过 200 个字")
    if text.is_blank(body):
        raise ValueError("留言内容为空（或只有不可见字符）")
    try:
        asked_at = parse_local(values["asked_at"])
    except ValueError as exc:
        raise ValueError(f"asked_at 不是 ISO 8601 时间：{values['asked_at']!r}") from exc
    dept_name = values["department"]
    reply = "" if text.is_blank(values["reply"]) else values["reply"]
    # An answered row keeps the department it was answered by; an open one goes to whoever carries on its work.
    department = find_department(dept_name, not reply) if dept_name else None
    category = values["category"] or None
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"未知类别：{category}")
    replied_at = None
    if reply:
        try:
            replied_at = parse_local(values["replied_at"])
        except ValueError as exc:
            raise ValueError(f"有答复但 replied_at 不是 ISO 8601 时间：{values['replied_at']!r}") from exc
    return _Row(lineno, external_id, title, body, asked_at, department, category, reply, replied_at)


def _store(session: Session, row: _Row, rule: DueRule, now: datetime) -> Question:
    due_at = rule.due_at(row.asked_at)
    question = Question(
        title=row.title,
        body=row.body,
        category=row.category,
        department_id=row.department.id if row.department else None,
        status=RECEIVED,
        received_at=row.asked_at,
        due_at=due_at,
        external_id=row.external_id,
        # Unanswered and already past its due time: an old record, imported as history (no overdue notice).
        imported_history=not row.reply and due_at <= now,
    )
    if row.reply:
        question.status = PUBLISHED
        question.answered_at = question.published_at = question.closed_at = row.replied_at
        if row.department:
            question.routed_at = row.asked_at
        question.reply = Reply(
            body_md=row.reply,
            body_html=render_markdown(row.reply),
            department_id=question.department_id,
            created_at=row.replied_at,
            updated_at=row.replied_at,
            published_at=row.replied_at,
        )
    session.add(question)
    return question


def read_department_map(session: Session, lines: Iterable[str]) -> dict[str, str]:
    """A map file: one `unknown name,department` a line (CSV; `#` comments; an empty target = the office routes
    it). Raises ValidationFailed naming every line whose target is not a department."""
    mapping: dict[str, str] = {}
    bad: list[str] = []
    for lineno, row in enumerate(csv.reader(lines), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        name = text.clean_line(row[0])
        target = text.clean_line(row[1]) if len(row) > 1 else ""
        if not name or len(row) > 2:
            bad.append(f"第 {lineno} 行：应为“未知名称,部门名称或标识”两列")
        elif target and departments.resolve(session, target) is None:
            bad.append(f"第 {lineno} 行：没有部门“{target}”")
        else:
            mapping[name] = target
    if bad:
        raise ValidationFailed({"map": "；".join(bad)})
    return mapping


def import_lines(
    session: Session,
    lines: Iterable[str | bytes],
    rule: DueRule,
    progress: Callable[[int], None] | None = None,
    source: str = "",
    department_map: dict[str, str] | None = None,
) -> ImportResult:
    """Import JSON Lines (text, or bytes decoded line by line); lines whose external_id is already present are
    skipped; commits in batches; a bad line is reported with its number and the others are imported."""
    result = ImportResult()
    now = utcnow()
    mapping = department_map or {}
    cache: dict[tuple[str, bool], Department | None] = {}

    def find_department(name: str, open_question: bool) -> Department | None:
        key = (name, open_question)
        if key not in cache:
            target = mapping.get(name, name)
            found = departments.resolve(session, target, follow_mergers=open_question) if target else None
            if found is None and target:
                raise UnknownDepartment(name)
            cache[key] = found
        return cache[key]
    pending: list[_Row] = []
    seen: set[str] = set()

    def flush_batch() -> None:
        if not pending:
            return
        ids = [r.external_id for r in pending]
        existing = set(session.scalars(select(Question.external_id).where(Question.external_id.in_(ids))))
        stored = []
        for row in pending:
            if row.external_id in existing:
                result.skipped += 1
                continue
            stored.append(_store(session, row, rule, now))
        session.flush()
        for question in stored:
            assign_number(session, question)
            if question.status == PUBLISHED:
                enqueue_for_search(session, question.id)
        result.imported += len(stored)
        result.history += sum(1 for q in stored if q.imported_history)
        session.commit()
        pending.clear()

    lineno = 0
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = _parse(lineno, line, find_department)
        except UnknownDepartment as exc:
            result.unknown_departments.setdefault(exc.name, []).append(lineno)
            result.invalid.append((lineno, str(exc)))
            continue
        except ValueError as exc:
            result.invalid.append((lineno, str(exc)))
            continue
        if row.external_id in seen:
            result.skipped += 1
            continue
        seen.add(row.external_id)
        pending.append(row)
        if len(pending) >= BATCH:
            flush_batch()
            if progress:
                progress(lineno)
    flush_batch()
    if progress:
        progress(lineno)
    audit.record(
        session, None, "questions.imported", "import", None,
        source=source, imported=result.imported, skipped=result.skipped, invalid=len(result.invalid),
        history=result.history, unknown_departments=sorted(result.unknown_departments),
    )
    session.commit()
    return result
