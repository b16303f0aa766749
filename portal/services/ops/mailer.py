"""Outgoing e-mail through SMTP (smtplib); settings come from PORTAL_SMTP_*."""

from __future__ import annotations

import functools
import secrets
import smtplib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.charset import BASE64, QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import formatdate, make_msgid

from portal.markup import text_to_html

# Quoted-printable UTF-8 bodies (readable in transit, short lines); the compat32 MIME classes build a message
# several times faster than EmailMessage's header registry, which matters at 10,000 mails per bulletin.
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP
_UTF8_QP.header_encoding = BASE64


class MailError(RuntimeError):
    """Sending failed (no server configured, refused, timed out); the caller logs and keeps the send pending."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send."""

    host: str
    port: int = 25
    user: str = ""
    password: str = ""
    sender: str = "noreply@yunxi.example"
    starttls: bool = False
    timeout: int = 10

    @classmethod
    def from_config(cls, config) -> SmtpSettings:
        return cls(
            host=config.get("SMTP_HOST", ""), port=int(config.get("SMTP_PORT", 25)), user=config.get("SMTP_USER", ""),
            password=config.get("SMTP_PASSWORD", ""), sender=config.get("SMTP_FROM", "noreply@yunxi.example"),
            starttls=bool(config.get("SMTP_STARTTLS", False)), timeout=int(config.get("SMTP_TIMEOUT", 10)),
        )


@dataclass
class Mail:
    """One message to one recipient."""

    to: str
    subject: str
    text: str
    headers: dict[str, str] | None = None
    html: str | None = None  # a sanitised HTML fragment for the HTML part (None: made from `text`)


@functools.lru_cache(maxsize=1024)
def _header(value: str) -> str:
    """A header value, RFC 2047-encoded when not ASCII (cached: a bulletin's subject is the same for everyone)."""
    return value if value.isascii() else Header(value, "utf-8").encode()


class _Flatten(Compat32):
    """compat32 without re-folding: every header value here is already ASCII (non-ASCII ones were RFC 2047-encoded
    and folded by `_header`), so writing it as it is gives the same bytes at a fraction of the cost."""

    def fold(self, name: str, value) -> str:
        if isinstance(value, str) and value.isascii() and len(value) < 990:
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)


FLATTEN = _Flatten()


def as_text(message: Message) -> str:
    """The message as the ASCII text handed to smtplib (which turns its line ends into CRLF)."""
    return message.as_string(policy=FLATTEN)


_HTML_PAGE = ('<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"></head>'
              '<body style="font-family:sans-serif;line-height:1.6">{}</body></html>')


def build_message(settings: SmtpSettings, mail: Mail) -> Message:
    """A UTF-8 message with Date and Message-ID: plain text and a sanitised HTML alternative (`mail.html`, or the
    text made HTML by portal/markup.py)."""
    html = mail.html if mail.html is not None else text_to_html(mail.text)
    # A boundary of our own: "=_" never occurs in quoted-printable text, so no scan of the parts is needed.
    msg: Message = MIMEMultipart("alternative", boundary=f"=_portal_{secrets.token_hex(12)}")
    msg.attach(MIMEText(mail.text, "plain", _UTF8_QP))
    msg.attach(MIMEText(_HTML_PAGE.format(html), "html", _UTF8_QP))
    msg["From"] = _header(settings.sender)
    msg["To"] = mail.to
    msg["Subject"] = _header(mail.subject)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    for name, value in (mail.headers or {}).items():
        msg[name] = _header(value)
    return msg


def send_all(settings: SmtpSettings, mails: Iterable[Mail]) -> int:
    """Send the messages over one SMTP connection; returns how many went out. Raises MailError."""
    mails = list(mails)
    if not mails:
        return 0
    if not settings.host:
        raise MailError("PORTAL_SMTP_HOST is not set: mail is disabled")
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.user:
                smtp.login(settings.user, settings.password)
            for mail in mails:
                smtp.send_message(build_message(settings, mail))
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"SMTP {settings.host}:{settings.port}: {exc}") from exc
    return len(mails)


def mail_configured(config: Mapping) -> bool:
    """True when an SMTP host is set."""
    return bool(str(config.get("SMTP_HOST") or "").strip())


def send_mail(config: Mapping, to: list[str], subject: str, text: str) -> None:
    """One plain-text message to each recipient (none sees the others); MailError on any failure."""
    recipients = [address.strip() for address in to if address and address.strip()]
    if not recipients:
        raise MailError("no recipients")
    send_all(SmtpSettings.from_config(config), [Mail(to=r, subject=subject, text=text) for r in recipients])
