"""The two ways a delivery leaves the site: SMTP (one connection reused for a batch) and a WebSub hub ping.

Each send either returns or raises one of three errors, which is all the delivery engine needs to know:
`Refused` (permanent, this recipient: SMTP 5xx), `Undeliverable` (this message can never go: give up without
counting a bounce) and `RelayDown` (the relay or hub itself failed or timed out, or answered 4xx: try later).
"""

from __future__ import annotations

import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request

from email_validator import EmailNotValidError, validate_email

from portal.services.ops.mailer import Mail, SmtpSettings, as_text, build_message


class Refused(Exception):
    """A permanent refusal of this one recipient (SMTP 5xx): counted as a bounce."""


class Undeliverable(Exception):
    """This message can never be sent as it is (for example an address the relay cannot take)."""


class Retry(Exception):
    """A temporary refusal of this one recipient (SMTP 4xx on RCPT or DATA): try it again later."""


class RelayDown(Exception):
    """The relay or hub is unreachable, timed out or refuses everything for now: stop the batch, retry later."""


def envelope_address(address: str) -> str:
    """The address as the relay takes it: an IDN domain in its ASCII (punycode) form; ASCII addresses unchanged."""
    if address.isascii():
        return address
    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise Undeliverable(f"地址无效：{exc}") from exc
    if checked.ascii_email is None:
        raise Undeliverable("收件地址的用户名含非 ASCII 字符，邮件服务器不支持 SMTPUTF8。")
    return checked.ascii_email


def _code_error(code: int, text: str) -> Exception:
    return Refused(text) if 500 <= code < 600 else Retry(text)


class SmtpTransport:
    """Sends Mail over one SMTP connection, opened on first use and reused until `close()`."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.conn: smtplib.SMTP | None = None
        self.opened = 0  # connections opened (the bench prints it: reuse within a batch)

    def _connect(self) -> smtplib.SMTP:
        if self.conn is not None:
            return self.conn
        s = self.settings
        if not s.host:
            raise RelayDown("PORTAL_SMTP_HOST is not set: mail is disabled")
        try:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.starttls:
                conn.starttls(context=ssl.create_default_context())
            if s.user:
                conn.login(s.user, s.password)
        except (OSError, smtplib.SMTPException) as exc:
            raise RelayDown(f"SMTP {s.host}:{s.port}: {exc}") from exc
        self.conn = conn
        self.opened += 1
        return conn

    def send(self, mail: Mail) -> None:
        """Send one message; raises Refused, Retry, Undeliverable or RelayDown."""
        to = envelope_address(mail.to)
        message = build_message(self.settings, Mail(to=to, subject=mail.subject, text=mail.text,
                                                     headers=mail.headers, html=mail.html))
        conn = self._connect()
        try:
            conn.sendmail(self.settings.sender, [to], as_text(message))
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _code_error(code, f"{code} {text.decode(errors='replace')}"[:480]) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise Undeliverable(str(exc)[:480]) from exc
        except smtplib.SMTPSenderRefused as exc:
            self.close()
            raise RelayDown(f"sender refused: {exc.smtp_code} {exc.smtp_error!r}"[:480]) from exc
        except smtplib.SMTPDataError as exc:
            raise _code_error(exc.smtp_code, f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"[:480]) \
                from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise RelayDown(f"SMTP {self.settings.host}:{self.settings.port}: {exc}"[:480]) from exc

    def close(self) -> None:
        """Say QUIT (or just drop a broken connection)."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (OSError, smtplib.SMTPException):
            conn.close()


class HubTransport:
    """Pings a WebSub hub (hub.mode=publish) for one topic URL per send."""

    def __init__(self, hub: str, timeout: float = 3.0) -> None:
        self.hub = hub
        self.timeout = timeout
        self.opened = 0

    def send(self, topic: str) -> None:
        """POST one publish notification; raises Undeliverable, Retry or RelayDown."""
        if urllib.parse.urlsplit(self.hub).scheme not in ("http", "https"):
            raise RelayDown(f"PORTAL_WEBSUB_HUB must be an http(s) URL, not {self.hub!r}")
        data = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": topic}).encode()
        request = urllib.request.Request(self.hub, data=data, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        self.opened += 1
        try:
            # The hub is an http(s) URL from the configuration (checked above), never user input.
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # nosec B310
                response.read(1024)
        except urllib.error.HTTPError as exc:
            if exc.code in (408, 429) or exc.code >= 500:
                raise RelayDown(f"hub answered {exc.code}") from exc
            raise Undeliverable(f"hub refused the topic: {exc.code}") from exc
        except (OSError, ValueError) as exc:
            raise RelayDown(f"hub {self.hub}: {exc}"[:480]) from exc

    def close(self) -> None:
        """Nothing to close (one request per ping)."""
