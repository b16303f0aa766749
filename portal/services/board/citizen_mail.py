"""Telling a citizen that the answer to their question is published: the only use of an e-mail they left.

One short message after the publication is committed; it carries the question number and the public link,
never the tracking code (a mailbox is not a safe place for a secret). A failure is logged and never touches
the publication.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from portal.models import Question
from portal.services.ops.mailer import MailError, mail_configured, send_mail

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


def notify_answer_published(config: Mapping, question: Question, link: str) -> bool:
    """Send the notice if the question's contact is an e-mail address; True when a message went out."""
    address = email_in(question.contact)
    if address is None:
        return False
    if not mail_configured(config):
        log.info("question %s: answer published; mail is off, the citizen is not notified", question.number)
        return False
    subject, text = answer_published_mail(question, link, str(config.get("SITE_NAME", "")))
    try:
        send_mail(config, [address], subject, text)
    except MailError:
        log.exception("question %s: the answer-published mail failed (the publication stands)", question.number)
        return False
    return True
