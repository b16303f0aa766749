"""Importing questions from JSON Lines (idempotent on external_id); every text passes the text door, and a bad
line (not UTF-8, not JSON, a missing or invisible text, an unknown department) is reported by number while the
others are imported."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import text
from portal.markup import render_markdown
from portal.models import Department, Question, Reply
from portal.models.question import CATEGORIES, PUBLISHED, RECEIVED
from portal.search.indexer import enqueue as enqueue_for_search
from portal.services import audit
from portal.services.board.questions import assign_number
from portal.services.clock import DueRule
from portal.timeutil import parse_local

FIELDS = ("title", "body", "asked_at", "department", "category", "reply", "replied_at", "external_id")
BATCH = 500


@dataclass
class ImportResult:
    """Counts of one import run, with the line numbers and reasons of invalid lines."""

    imported: int = 0
    skipped: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)


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


def _parse(lineno: int, line: str | bytes, departments: dict[str, Department]) -> _Row:
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
    department = departments.get(dept_name) if dept_name else None
    if dept_name and department is None:
        raise ValueError(f"未知部门：{dept_name}")
    category = values["category"] or None
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"未知类别：{category}")
    reply = "" if text.is_blank(values["reply"]) else values["reply"]
    replied_at = None
    if reply:
        try:
            replied_at = parse_local(values["replied_at"])
        except ValueError as exc:
            raise ValueError(f"有答复但 replied_at 不是 ISO 8601 时间：{values['replied_at']!r}") from exc
    return _Row(lineno, external_id, title, body, asked_at, department, category, reply, replied_at)


def _store(session: Session, row: _Row, rule: DueRule) -> Question:
    question = Question(
        title=row.title,
        body=row.body,
        category=row.category,
        department_id=row.department.id if row.department else None,
        status=RECEIVED,
        received_at=row.asked_at,
        due_at=rule.due_at(row.asked_at),
        external_id=row.external_id,
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


def _save(session: Session, rows: list[_Row], rule: DueRule) -> int:
    """Store, number and queue for indexing `rows` in one transaction; returns how many."""
    stored = [_store(session, row, rule) for row in rows]
    session.flush()
    for question in stored:
        assign_number(session, question)
        if question.status == PUBLISHED:
            enqueue_for_search(session, question.id)
    session.commit()
    return len(stored)


def import_lines(
    session: Session,
    lines: Iterable[str | bytes],
    rule: DueRule,
    progress: Callable[[int], None] | None = None,
    source: str = "",
) -> ImportResult:
    """Import JSON Lines (text, or bytes decoded line by line); lines whose external_id is already present are
    skipped; commits in batches; a bad line is reported with its number and the others are imported."""
    result = ImportResult()
    departments = {d.name: d for d in session.scalars(select(Department))}
    departments.update({d.slug: d for d in departments.values()})
    pending: list[_Row] = []
    seen: set[str] = set()

    def flush_batch() -> None:
        if not pending:
            return
        ids = [r.external_id for r in pending]
        existing = set(session.scalars(select(Question.external_id).where(Question.external_id.in_(ids))))
        fresh = [row for row in pending if row.external_id not in existing]
        result.skipped += len(pending) - len(fresh)
        pending.clear()
        result.imported += _save(session, fresh, rule)

    lineno = 0
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = _parse(lineno, line, departments)
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
    )
    session.commit()
    return result
