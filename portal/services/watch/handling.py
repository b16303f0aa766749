"""Handling a watched item with the states and clock of a board question: triage, assignment with notices,
answers under registered screen names, notes, escalation to 重大 and closing with the office's grade."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from portal.models import Department, StaffUser, WatchItem
from portal.models.desk import NOTICE_ROUTED
from portal.models.staff import ROLE_ADMIN, ROLE_OFFICE, ROLE_RESPONDER, ROLE_SPOKESPERSON
from portal.models.watch_loop import (
    GRADES,
    ITEM_ASSIGNED,
    ITEM_CLOSED,
    ITEM_DISMISSED,
    ITEM_PENDING,
    ITEM_RESPONDED,
    ITEM_STATUS_LABELS,
    ITEM_TRANSITIONS,
    WatchAnswer,
    WatchNote,
)
from portal.services import audit
from portal.services.clock import rule_from_config
from portal.services.desk import notices
from portal.services.watch.screen_names import find_registered
from portal.timeutil import to_beijing, utcnow

REASON_MAX = 500
NOTE_MAX = 2000
ANSWER_MAX = 5000
URL_MAX = 2000
CO_MAX = 20


def _office(actor: StaffUser, what: str) -> None:
    if actor.role != ROLE_OFFICE:
        raise Forbidden(f"只有办公室可以{what}。")


def _move(item: WatchItem, target: str) -> None:
    if target not in ITEM_TRANSITIONS.get(item.status, frozenset()):
        raise InvalidTransition(f"这条信息当前“{item.status_label}”，不能改为“{ITEM_STATUS_LABELS[target]}”。")
    item.status = target


def can_handle(user: StaffUser, item: WatchItem) -> bool:
    """The office, or a responder of the lead or a co-department."""
    if user.role == ROLE_OFFICE:
        return True
    if user.role != ROLE_RESPONDER or not user.department_id or item.status == ITEM_PENDING:
        return False
    return item.department_id == user.department_id or any(d.id == user.department_id for d in item.co_departments)


def can_read(user: StaffUser, item: WatchItem) -> bool:
    """Everyone on the watch desk reads items (the list is open to them); kept as one place to narrow it."""
    return user.role in (ROLE_OFFICE, ROLE_ADMIN, ROLE_RESPONDER, ROLE_SPOKESPERSON)


def get_item(session: Session, item_id: int) -> WatchItem:
    """The item or NotFound."""
    item = session.get(WatchItem, item_id)
    if item is None:
        raise NotFound("没有这条监测信息。")
    return item


def due_for(config: Mapping[str, Any], item: WatchItem) -> datetime:
    """The due time by the board's same-day rule, counted from the first-seen time."""
    return rule_from_config(config).due_at(item.first_seen_at)


def dismiss(session: Session, actor: StaffUser, item: WatchItem, reason: str) -> WatchItem:
    """待研判 -> 无需处置, with the reason kept on record."""
    _office(actor, "研判监测信息")
    reason = door.clean_line(reason or "")
    if door.is_blank(reason) or len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": f"请填写无需处置的理由（不超过 {REASON_MAX} 个字）。"})
    _move(item, ITEM_DISMISSED)
    item.dismiss_reason = reason
    item.closed_at = utcnow()
    audit.record(session, actor, "watch.dismissed", "watch_item", item.id, reason=reason)
    session.commit()
    return item


def assign(session: Session, actor: StaffUser, item: WatchItem, department_id: int | None, co_ids: list[int],
           config: Mapping[str, Any], note: str = "") -> WatchItem:
    """待研判 -> 已交办: a lead department (None: the office answers under its official account) and helpers;
    the departments are told on screen (and by mail after the commit, by the caller)."""
    _office(actor, "交办监测信息")
    reasons: dict[str, str] = {}
    lead = session.get(Department, department_id) if department_id else None
    if department_id and (lead is None or not lead.active):
        reasons["department"] = "没有这个部门。"
    co_ids = [i for i in dict.fromkeys(co_ids) if i != department_id][:CO_MAX]
    co = [d for d in (session.get(Department, i) for i in co_ids) if d is not None and d.active]
    if len(co) != len(co_ids):
        reasons["co_departments"] = "协办部门中有不存在的部门。"
    note = door.clean_line(note or "")
    if len(note) > REASON_MAX:
        reasons["note"] = f"交办说明不超过 {REASON_MAX} 个字。"
    if reasons:
        raise ValidationFailed(reasons)
    if item.status == ITEM_ASSIGNED and item.answers:
        raise InvalidTransition("已有回应记录，不能改派。")
    _move(item, ITEM_ASSIGNED)
    now = utcnow()
    item.department_id = lead.id if lead else None
    item.co_departments = co
    item.assigned_at = item.assigned_at or now
    item.due_at = due_for(config, item)
    when = to_beijing(item.due_at).strftime("%Y-%m-%d %H:%M")
    for dept, role in [(lead, "牵头")] + [(d, "协办") for d in co]:
        message = f"监测信息“{item.title[:60]}”（{item.source.platform} · {item.source.name}）请{role}回应，" \
                  f"应于 {when} 前在平台上回应并登记。{note}"
        notices.add_notice(session, dept.id if dept else None, None, NOTICE_ROUTED, message, watch_item=item)
    audit.record(session, actor, "watch.assigned", "watch_item", item.id, department=lead.name if lead else "办公室",
                 co_departments=[d.name for d in co], due=when, note=note)
    session.commit()
    return item


def record_answer(session: Session, actor: StaffUser, item: WatchItem, url: str, screen_name: str,
                  answered_at: datetime | None, text: str) -> WatchAnswer:
    """Record the answer made on the platform; the screen name must be registered on the item's platform (a
    responder may use only their department's; the office records under any registered name)."""
    if not can_handle(actor, item):
        raise Forbidden("这条信息没有交办给您的部门。")
    if item.status not in (ITEM_ASSIGNED, ITEM_RESPONDED):
        raise InvalidTransition(f"这条信息当前“{item.status_label}”，不能登记回应。")
    reasons: dict[str, str] = {}
    url = (url or "").strip()
    text = door.clean_line(text or "")
    now = utcnow()
    if not url.startswith(("http://", "https://")) or len(url) > URL_MAX or any(c.isspace() for c in url):
        reasons["url"] = "请填写回应所在页面的链接（以 http:// 或 https:// 开头）。"
    if door.is_blank(text) or len(text) > ANSWER_MAX:
        reasons["text"] = f"请填写回应内容（不超过 {ANSWER_MAX} 个字）。"
    when = answered_at or now
    if when > now + timedelta(minutes=5):
        reasons["answered_at"] = "回应时间不能晚于现在。"
    elif when < item.first_seen_at - timedelta(days=1):
        reasons["answered_at"] = "回应时间不能早于发现这条信息的时间。"
    platform = item.source.platform
    entry = find_registered(session, platform, screen_name) if (screen_name or "").strip() else None
    if not (screen_name or "").strip():
        reasons["screen_name"] = "请填写回应时使用的网名。"
    elif entry is None:
        reasons["screen_name"] = f"“{door.clean_line(screen_name)[:50]}”不是{platform}上的备案网名，" \
                                 "请先到办公室备案后再用它回应。"
    elif actor.role == ROLE_RESPONDER and (entry.official or entry.department_id != actor.department_id):
        reasons["screen_name"] = "只能使用本部门备案的网名登记回应。"
    if reasons:
        raise ValidationFailed(reasons)
    answer = WatchAnswer(
        item_id=item.id, screen_name_id=entry.id, department_id=None if entry.official else entry.department_id,
        url=url, answered_at=when, text=text, recorded_by_id=actor.id, recorded_at=now,
    )
    session.add(answer)
    if item.status == ITEM_ASSIGNED:
        _move(item, ITEM_RESPONDED)
    if item.answered_at is None or when < item.answered_at:
        item.answered_at = when
    session.flush()
    on_time = item.due_at is None or when <= item.due_at
    audit.record(session, actor, "watch.answered", "watch_item", item.id, answer=answer.id, url=url,
                 screen_name=entry.name, platform=platform, on_time=on_time)
    session.commit()
    return answer


def close(session: Session, actor: StaffUser, item: WatchItem, grade: str) -> WatchItem:
    """已回应 -> 已办结, with the office's grade of the answers (好 / 一般 / 差)."""
    _office(actor, "办结监测信息")
    if grade not in GRADES:
        raise ValidationFailed({"grade": "请评定回应效果：好、一般或差。"})
    _move(item, ITEM_CLOSED)
    item.grade = grade
    item.closed_at = utcnow()
    audit.record(session, actor, "watch.closed", "watch_item", item.id, grade=grade)
    session.commit()
    return item


def mark_major(session: Session, actor: StaffUser | None, item: WatchItem, memo: str = "") -> bool:
    """Mark the item 重大 in the caller's transaction (no commit); False when it already was."""
    if item.severity == "重大":
        return False
    item.severity = "重大"
    item.major_at = utcnow()
    audit.record(session, actor, "watch.major", "watch_item", item.id, memo=memo,
                 after_assignment=item.assigned_at is not None)
    return True


def escalate(session: Session, actor: StaffUser, item: WatchItem) -> WatchItem:
    """Raise the item to 重大 (it then counts against the department's "kept from escalating")."""
    _office(actor, "把监测信息升级为重大舆情")
    if not mark_major(session, actor, item):
        raise InvalidTransition("这条信息已经是重大舆情。")
    session.commit()
    return item


def add_note(session: Session, actor: StaffUser, item: WatchItem, body: str) -> WatchNote:
    """An internal note (never shown outside the console)."""
    if not can_handle(actor, item):
        raise Forbidden("这条信息没有交办给您的部门。")
    body = door.clean_line(body or "")
    if door.is_blank(body) or len(body) > NOTE_MAX:
        raise ValidationFailed({"body": f"请填写备注（不超过 {NOTE_MAX} 个字）。"})
    note = WatchNote(item_id=item.id, author_id=actor.id, body=body, created_at=utcnow())
    session.add(note)
    session.flush()
    audit.record(session, actor, "watch.note", "watch_item", item.id, note=note.id)
    session.commit()
    return note


def notify_overdue(session: Session, now: datetime, settings: object = None) -> int:
    """Tell each department once about each assigned item still unanswered past its due time (the worker's step)."""
    from sqlalchemy import select

    from portal.models.desk import NOTICE_OVERDUE

    overdue = list(session.scalars(select(WatchItem).where(
        WatchItem.status == ITEM_ASSIGNED, WatchItem.due_at.is_not(None), WatchItem.due_at < now,
        WatchItem.overdue_notified_at.is_(None)).order_by(WatchItem.id)))
    for item in overdue:
        who = item.department.name if item.department else "办公室"
        message = (f"监测信息“{item.title[:60]}”（{item.source.platform} · {item.source.name}）已超过应回应时间"
                   f"（{to_beijing(item.due_at):%Y-%m-%d %H:%M}），请尽快在平台上回应并登记。牵头：{who}。")
        notices.add_notice(session, item.department_id, None, NOTICE_OVERDUE, message, watch_item=item)
        item.overdue_notified_at = now
        audit.record(session, None, "watch.overdue_notice", "watch_item", item.id, department=who)
    session.commit()
    return len(overdue)
