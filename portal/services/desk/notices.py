"""Notices to departments: on screen (Notification rows) and by mail after the commit; overdue sweeps."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, lazyload

from portal.models import Department, Notification, Question, StaffUser, WatchItem
from portal.models.desk import NOTICE_OVERDUE
from portal.models.question import OPEN_STATES
from portal.models.staff import ROLE_OFFICE, ROLE_RESPONDER
from portal.services import audit
from portal.services.ops.mailer import MailError, mail_configured, send_mail
from portal.timeutil import to_beijing, utcnow

log = logging.getLogger(__name__)


def add_notice(session: Session, department_id: int | None, question: Question | None, kind: str, message: str,
               watch_item: WatchItem | None = None):
    """Add an on-screen notice to the session (it commits with the change it announces), about a question or
    a watched item."""
    notice = Notification(
        department_id=department_id,
        question_id=question.id if question is not None else None,
        watch_item_id=watch_item.id if watch_item is not None else None,
        kind=kind,
        message=message,
        created_at=utcnow(),
    )
    session.add(notice)
    return notice


def recipients(session: Session, department_id: int | None) -> list[str]:
    """Mail addresses of the active accounts that handle the department's notices (office for None)."""
    stmt = select(StaffUser.email).where(StaffUser.active.is_(True), StaffUser.email.is_not(None))
    if department_id is None:
        stmt = stmt.where(StaffUser.role == ROLE_OFFICE)
    else:
        stmt = stmt.where(StaffUser.department_id == department_id, StaffUser.role == ROLE_RESPONDER)
    return sorted({e for e in session.scalars(stmt) if e})


def deliver(session: Session, config: Mapping[str, Any], notice_ids: Iterable[int]) -> int:
    """Mail committed notices; a failure is logged and kept on the notice, never raised. Returns mails sent."""
    if not mail_configured(config):
        return 0
    sent = 0
    for notice_id in list(notice_ids):
        notice = session.get(Notification, notice_id)
        if notice is None or notice.mailed_at is not None:
            continue
        to = recipients(session, notice.department_id)
        if not to:
            continue
        subject = f"【{config.get('SITE_NAME', '留言平台')}】{notice.kind_label}：{notice.message[:40]}"
        body = notice.message + "\n\n请登录工作台办理。此邮件由系统自动发送。"
        try:
            send_mail(config, to, subject, body)
        except MailError as exc:
            log.warning("notice %s not mailed: %s", notice.id, exc)
            notice.mail_error = str(exc)[:500]
        else:
            notice.mailed_at = utcnow()
            notice.mail_error = None
            sent += 1
        session.commit()
    return sent


def for_user(session: Session, user: StaffUser, unread_only: bool = True, limit: int = 50) -> list[Notification]:
    """The notices addressed to the user's desk: the office's, or the responder's department's."""
    stmt = select(Notification)
    if user.role == ROLE_OFFICE:
        stmt = stmt.where(Notification.department_id.is_(None))
    elif user.role == ROLE_RESPONDER and user.department_id:
        stmt = stmt.where(Notification.department_id == user.department_id)
    else:
        return []
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list(session.scalars(stmt.order_by(Notification.id.desc()).limit(limit)))


def mark_read(session: Session, user: StaffUser) -> int:
    """Mark every notice on the user's desk as read."""
    ids = [n.id for n in for_user(session, user, unread_only=True, limit=10000)]
    if ids:
        session.execute(update(Notification).where(Notification.id.in_(ids)).values(read_at=utcnow()))
        session.commit()
    return len(ids)


def notify_overdue(session: Session, config: Mapping[str, Any], now: datetime | None = None) -> int:
    """Tell each department once about each of its open questions past due; idempotent. Returns the count."""
    now = now or utcnow()
    overdue = session.scalars(
        select(Question)
        .where(
            Question.status.in_(OPEN_STATES),
            Question.due_at.is_not(None),
            Question.due_at < now,
            Question.overdue_notified_at.is_(None),
        )
        .order_by(Question.id)
        .options(lazyload(Question.department))  # no outer join: FOR UPDATE may not lock its nullable side
        .with_for_update(skip_locked=True, of=Question)
    ).all()
    created = []
    for question in overdue:
        department = session.get(Department, question.department_id) if question.department_id else None
        who = department.name if department else "办公室（待分办）"
        message = (
            f"留言 {question.number}“{question.title}”已超过应答复时间"
            f"（{to_beijing(question.due_at):%Y-%m-%d %H:%M}），请尽快答复。办理单位：{who}。"
        )
        created.append(add_notice(session, department.id if department else None, question, NOTICE_OVERDUE, message))
        question.overdue_notified_at = now
        audit.record(session, None, "question.overdue_notice", "question", question.id, department=who)
    session.commit()
    deliver(session, config, [n.id for n in created])
    return len(created)
