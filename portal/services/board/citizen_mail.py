"""Telling a citizen that the answer to their question is published: the only use of an e-mail they left.

Publishing the answer queues one delivery in the same transaction (no address copied: the worker reads it from the
question when it sends, so a contact purged meanwhile also cancels the mail). The message carries the question
number and the public link, never the tracking code (a mailbox is not a safe place for a secret).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Delivery, Question
from portal.models.delivery import CHANNEL_MAIL, QUEUED, SUBJECT_ANSWER
from portal.services.ops.delivery import Skip
from portal.services.ops.mailer import Mail
from portal.timeutil import utcnow

log = logging.getLogger(__name__)
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})+")


def email_in(contact: str | None) -> str | None:
    """The e-mail address in a contact field ("电话或邮箱"), when it holds exactly one; else None."""
    found = EMAIL_RE.findall(contact or "")
    return found[0] if len(found) == 1 else None


def answer_published_mail(question: Question, link: str, site_name: str) -> tuple[str, str]:
    """Subject and text of the notice."""
    subject = f"您的留言（编号 {question.number}）已有答复"
    text = (
        f"您好：\n\n您在{site_name}提交的留言（编号 {question.number}）已有答复并已公开，请点击下面的链接查看：\n\n"
        f"{link}\n\n这封邮件是因为您留言时留下了这个邮箱地址；我们不会用它做其他事情，也不会再次发信。\n"
        f"为了您的隐私，邮件中不包含查询码。\n\n{site_name}\n"
    )
    return subject, text


def queue_answer_mail(session: Session, question: Question) -> bool:
    """Queue the one answer mail when the question's contact is an e-mail address (the caller commits)."""
    if email_in(question.contact) is None:
        return False
    topic = f"answer:{question.id}"
    if session.scalar(select(Delivery.id).where(Delivery.topic == topic)) is not None:
        return False  # "we will not write again": one mail per question, even if it is published twice
    now = utcnow()
    session.add(Delivery(channel=CHANNEL_MAIL, topic=topic, subject_type=SUBJECT_ANSWER, subject_id=question.id,
                         edition=1, recipient="", state=QUEUED, attempts=0, next_attempt_at=now, created_at=now))
    return True


def answer_renderer(question_page: Callable[[str], str], site_name: str):
    """Build each answer mail at send time, from the question's contact as it is then."""

    def render(session: Session, rows: list[Delivery]) -> dict[int, Mail | Skip]:
        found = {q.id: q for q in session.scalars(
            select(Question).where(Question.id.in_({d.subject_id for d in rows})))}
        out: dict[int, Mail | Skip] = {}
        for d in rows:
            question = found.get(d.subject_id)
            address = email_in(question.contact) if question is not None else None
            if question is None or address is None:
                out[d.id] = Skip("联系方式已清除")
            elif not question.is_public:
                out[d.id] = Skip("留言未公开")
            else:
                subject, text = answer_published_mail(question, question_page(question.number), site_name)
                out[d.id] = Mail(to=address, subject=subject, text=text)
        return out

    return render
