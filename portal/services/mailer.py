"""Sending plain-text mail through the configured SMTP server (PORTAL_SMTP_*)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any


class MailError(Exception):
    """The mail could not be handed to the SMTP server; the message says why."""


def mail_configured(config: Mapping[str, Any]) -> bool:
    """True when an SMTP host is set."""
    return bool(str(config.get("SMTP_HOST") or "").strip())


def send_mail(config: Mapping[str, Any], to: list[str], subject: str, text: str) -> None:
    """Send one plain-text mail to `to`; MailError on any failure (nothing configured, refused, unreachable)."""
    recipients = [address.strip() for address in to if address and address.strip()]
    if not recipients:
        raise MailError("no recipients")
    if not mail_configured(config):
        raise MailError("SMTP is not configured (PORTAL_SMTP_HOST)")
    sender = str(config.get("SMTP_FROM") or "portal@localhost")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message.set_content(text)
    host = str(config["SMTP_HOST"]).strip()
    port = int(config.get("SMTP_PORT") or 25)
    timeout = float(config.get("SMTP_TIMEOUT") or 10)
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls(context=ssl.create_default_context())
            if config.get("SMTP_USER"):
                smtp.login(str(config["SMTP_USER"]), str(config.get("SMTP_PASSWORD") or ""))
            refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"{type(exc).__name__}: {exc}") from exc
    if refused:
        raise MailError(f"refused recipients: {', '.join(sorted(refused))}")
