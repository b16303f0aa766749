"""Notices to departments: on screen (Notification rows) and by mail through the worker; overdue sweeps.

A notice and one mail delivery per recipient are written in the transaction of the change they announce; the
worker sends the mails (portal/jobs.py), so routing 200 questions never waits on the mail relay.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, lazyload

from portal.models import Delivery, Department, Notification, Question, StaffUser, WatchItem
from portal.models.delivery import BOUNCED, CHANNEL_MAIL, FAILED, QUEUED, SENT, SUBJECT_NOTICE
from portal.models.desk import NOTICE_OVERDUE
from portal.models.question import OPEN_STATES
from portal.models.staff import ROLE_OFFICE, ROLE_RESPONDER
from portal.services import audit
from portal.services.ops.delivery import Skip
from portal.services.ops.mailer import Mail, mail_configured
from portal.timeutil import to_beijing, utcnow

log = logging.getLogger(__name__)


def add_notice(session: Session, department_id: int | None, question: Question | None, kind: str, message: str,
               mail: bool = True, watch_item: WatchItem | None = None):
    """Add an on-screen notice about a question or a watched item and (with `mail`) one mail delivery per
    recipient; they commit with the change they announce."""
    now = utcnow()
    notice = Notification(
        department_id=department_id,
        question_id=question.id if question is not None else None,
        watch_item_id=watch_item.id if watch_item is not None else None,
        kind=kind,
        message=message,
        created_at=now,
    )
    session.add(notice)
    if mail:
        session.flush()
        for address in recipients(session, department_id):
            session.add(Delivery(channel=CHANNEL_MAIL, topic=f"notice:{notice.id}", subject_type=SUBJECT_NOTICE,
                                 subject_id=notice.id, edition=1, recipient=address, state=QUEUED, attempts=0,
                                 next_attempt_at=now, created_at=now))
    return notice


def recipients(session: Session, department_id: int | None) -> list[str]:
    """Mail addresses of the active accounts that handle the department's notices (office for None)."""
    stmt = select(StaffUser.email).where(StaffUser.active.is_(True), StaffUser.email.is_not(None))
    if department_id is None:
        stmt = stmt.where(StaffUser.role == ROLE_OFFICE)
    else:
        stmt = stmt.where(StaffUser.department_id == department_id, StaffUser.role == ROLE_RESPONDER)
    return sorted({e for e in session.scalars(stmt) if e})


def notice_renderer(site_name: str):
    """Build each notice mail at send time."""

    def render(session: Session, rows: list[Delivery]) -> dict[int, Mail | Skip]:
        found = {n.id: n for n in session.scalars(
            select(Notification).where(Notification.id.in_({d.subject_id for d in rows})))}
        out: dict[int, Mail | Skip] = {}
        for d in rows:
            notice = found.get(d.subject_id)
            if notice is None:
                out[d.id] = Skip("提醒已删除")
                continue
            subject = f"【{site_name or '留言平台'}】{notice.kind_label}：{notice.message[:40]}"
            out[d.id] = Mail(to=d.recipient, subject=subject,
                             text=notice.message + "\n\n请登录工作台办理。此邮件由系统自动发送。")
        return out

    return render


def record_mail_outcome(session: Session, batch: list[Delivery]) -> None:
    """Keep each notice's mail state on the notice (shown with it): mailed, or the last error."""
    for d in batch:
        if d.subject_type != SUBJECT_NOTICE:
            continue
        notice = session.get(Notification, d.subject_id)
        if notice is None:
            continue
        if d.state == SENT:
            notice.mailed_at = d.sent_at
            notice.mail_error = None
        elif d.state in (BOUNCED, FAILED, QUEUED) and d.last_error and notice.mailed_at is None:
            notice.mail_error = d.last_error[:500]


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
            Question.imported_history.is_(False),  # old records brought in by an import are history, not late
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
        created.append(add_notice(session, department.id if department else None, question, NOTICE_OVERDUE, message,
                                  mail=mail_configured(config)))
        question.overdue_notified_at = now
        audit.record(session, None, "question.overdue_notice", "question", question.id, department=who)
    session.commit()
    return len(created)
