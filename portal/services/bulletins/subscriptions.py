"""E-mail subscriptions: subscribe (double opt-in), confirm, one-click unsubscribe, who gets an update or a release,
and the subscriptions suspended after repeated bounces (the admin lifts them)."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from markupsafe import escape
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import Forbidden, NotFound, ValidationFailed
from portal.markup import markdown_to_text
from portal.models import Delivery, Incident, Release, StaffUser, Subscription, Update
from portal.models.delivery import CHANNEL_MAIL, QUEUED, SENDING, SUBJECT_CONFIRM
from portal.models.staff import ROLE_ADMIN
from portal.models.subscription import KIND_BULLETINS, KIND_RELEASES, SUBSCRIPTION_KINDS
from portal.services import audit
from portal.services.ops.mailer import Mail
from portal.timeutil import utcnow

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
# A repeated request re-sends the confirmation mail only when the last one went out at least this long ago.
RESEND_AFTER = timedelta(minutes=10)
BAD_ADDRESS = "电子邮箱格式不正确，例如 name@example.com。"
NON_ASCII_LOCAL = ("这个邮箱地址 @ 前面的部分含有中文等非英文字符，本站的邮件服务器无法向这样的地址发信。"
                   "请换一个 @ 前面只有英文字母、数字或 . _ - 等符号的邮箱（@ 后面的中文域名可以使用）。")


def normalise_email(email: str, smtputf8: bool = False) -> str:
    """The address checked by email-validator (IDN domains such as .中国 accepted), in its normalised form.

    Without SMTPUTF8 at the relay (`smtputf8` False), a local part with non-ASCII characters cannot be delivered:
    it is refused here with a message, rather than kept and retried for ever."""
    email = door.clean_line(email or "")
    if door.is_blank(email):
        raise ValidationFailed({"email": "请填写电子邮箱。"})
    if len(email) > 254:
        raise ValidationFailed({"email": BAD_ADDRESS})
    try:
        checked = validate_email(email, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        raise ValidationFailed({"email": BAD_ADDRESS}) from None
    if not checked.local_part.isascii() and not smtputf8:
        raise ValidationFailed({"email": NON_ASCII_LOCAL})
    return checked.normalized


def _queue_confirmation(session: Session, sub: Subscription) -> bool:
    """Add a confirmation delivery unless one is pending or was sent recently; True when one was added."""
    last = session.scalar(select(Delivery).where(Delivery.subject_type == SUBJECT_CONFIRM,
                                                 Delivery.subject_id == sub.id).order_by(Delivery.id.desc()))
    now = utcnow()
    if last is not None and (last.state in (QUEUED, SENDING) or now - last.created_at < RESEND_AFTER):
        return False
    number = session.scalar(select(func.count(Delivery.id)).where(
        Delivery.subject_type == SUBJECT_CONFIRM, Delivery.subject_id == sub.id)) or 0
    session.add(Delivery(channel=CHANNEL_MAIL, topic=f"confirm:{sub.id}:{number + 1}", subject_type=SUBJECT_CONFIRM,
                         subject_id=sub.id, edition=number + 1, subscription_id=sub.id, recipient=sub.email,
                         state=QUEUED, attempts=0, next_attempt_at=now, created_at=now))
    return True


def subscribe(session: Session, email: str, incident: Incident | None, kind: str = KIND_BULLETINS,
              smtputf8: bool = False) -> Subscription:
    """Record a subscription awaiting confirmation and queue the confirmation mail (the worker sends it).

    A repeat request gets the same pending row back (and the mail again if the last one is ten minutes old).
    `kind` is "bulletins" (all of them, or one `incident`'s) or "releases" (every press release).
    """
    if kind not in SUBSCRIPTION_KINDS:
        raise ValidationFailed({"incident": "请选择订阅范围。"})
    if kind == KIND_RELEASES:
        incident = None
    email = normalise_email(email, smtputf8)
    incident_id = incident.id if incident else None
    existing = session.scalar(
        select(Subscription).where(
            Subscription.email == email,
            Subscription.kind == kind,
            Subscription.incident_id.is_(None) if incident_id is None else Subscription.incident_id == incident_id,
            Subscription.unsubscribed_at.is_(None),
        )
    )
    if existing is not None:
        if existing.confirmed_at is None and _queue_confirmation(session, existing):
            audit.record(session, None, "subscription.confirmation_resent", "subscription", existing.id)
            session.commit()
        return existing
    sub = Subscription(email=email, kind=kind, incident_id=incident_id, token=secrets.token_urlsafe(32),
                       created_at=utcnow())
    session.add(sub)
    session.flush()
    _queue_confirmation(session, sub)
    audit.record(session, None, "subscription.requested", "subscription", sub.id, kind=kind, incident_id=incident_id)
    session.commit()
    return sub


def _by_token(session: Session, token: str) -> Subscription:
    if not token or not TOKEN_RE.match(token):
        raise NotFound("链接无效或已过期。")
    sub = session.scalar(select(Subscription).where(Subscription.token == token))
    if sub is None:
        raise NotFound("链接无效或已过期。")
    return sub


def confirm(session: Session, token: str) -> Subscription:
    """The second opt-in: the button on the page the confirmation e-mail links to (a POST, never the GET)."""
    sub = _by_token(session, token)
    if sub.unsubscribed_at is not None:
        raise NotFound("这个订阅已退订，请重新订阅。")
    if sub.confirmed_at is None:
        sub.confirmed_at = utcnow()
        audit.record(session, None, "subscription.confirmed", "subscription", sub.id)
        session.commit()
    return sub


def unsubscribe(session: Session, token: str) -> Subscription:
    """One-click unsubscribe (idempotent)."""
    sub = _by_token(session, token)
    if sub.unsubscribed_at is None:
        sub.unsubscribed_at = utcnow()
        audit.record(session, None, "subscription.cancelled", "subscription", sub.id)
        session.commit()
    return sub


def peek(session: Session, token: str) -> Subscription:
    """The subscription behind a link, without changing it."""
    return _by_token(session, token)


def _active() -> tuple:
    return (Subscription.confirmed_at.is_not(None), Subscription.unsubscribed_at.is_(None),
            Subscription.suspended_at.is_(None))


def recipients_stmt(incident_id: int) -> Select:
    """Confirmed, active, not suspended subscriptions to all bulletins or to this incident, by id."""
    return select(Subscription).where(
        Subscription.kind == KIND_BULLETINS, *_active(),
        or_(Subscription.incident_id.is_(None), Subscription.incident_id == incident_id),
    ).order_by(Subscription.id)


def recipients(session: Session, update: Update) -> list[Subscription]:
    """Confirmed, active subscriptions to all bulletins or to this update's incident."""
    return list(session.scalars(recipients_stmt(update.incident_id)))


def release_recipients_stmt() -> Select:
    """Confirmed, active, not suspended subscriptions to press releases, by id."""
    return select(Subscription).where(Subscription.kind == KIND_RELEASES, *_active()).order_by(Subscription.id)


def release_recipients(session: Session) -> list[Subscription]:
    """Confirmed, active subscriptions to press releases."""
    return list(session.scalars(release_recipients_stmt()))


def suspended(session: Session, limit: int = 500) -> list[Subscription]:
    """Subscriptions suspended after repeated bounces, newest first (the admin's list)."""
    stmt = (select(Subscription).where(Subscription.suspended_at.is_not(None), Subscription.unsubscribed_at.is_(None))
            .order_by(Subscription.suspended_at.desc(), Subscription.id.desc()).limit(limit))
    return list(session.scalars(stmt))


def lift_suspension(session: Session, actor: StaffUser, sub: Subscription) -> Subscription:
    """The admin lets a suspended subscription receive mail again (bounce count reset); audited."""
    if actor.role != ROLE_ADMIN:
        raise Forbidden("只有系统管理员可以恢复订阅。")
    if sub.suspended_at is None:
        return sub
    audit.record(session, actor, "subscription.reinstated", "subscription", sub.id, bounces=sub.bounce_count,
                 last_bounce=(sub.last_bounce or "")[:200])
    sub.suspended_at = None
    sub.bounce_count = 0
    session.commit()
    return sub


def confirmation_mail(sub: Subscription, confirm_url: str, site_name: str) -> Mail:
    """The double opt-in message."""
    what = sub.what
    nothing = "任何新闻发布稿件" if sub.kind == KIND_RELEASES else "任何通报"
    text = (
        f"您好：\n\n有人（希望是您本人）在{site_name}用这个邮箱订阅了{what}。\n"
        f"请打开下面的链接，在页面上点击“确认订阅”按钮：\n\n{confirm_url}\n\n"
        f"如果不是您本人操作，请忽略本邮件，您不会收到{nothing}。\n"
    )
    return Mail(to=sub.email, subject=f"请确认订阅：{what}", text=text)


def update_mail(sub: Subscription, update: Update, page_url: str, unsubscribe_url: str, site_name: str,
                to: str | None = None) -> Mail:
    """One update (or its correction) for one subscriber, with RFC 8058 one-click unsubscribe headers."""
    prefix = "【更正】" if update.edition > 1 else ""
    lines = [f"{update.incident.title}", "", update.heading, "", markdown_to_text(update.body_md), ""]
    parts = [f"<h2>{escape(update.incident.title)}</h2>", f"<h3>{escape(update.heading)}</h3>", update.body_html]
    if update.corrections:
        note = f"更正说明：{update.corrections[-1].change_note}"
        lines += [note, ""]
        parts.append(f"<p><strong>{escape(note)}</strong></p>")
    return _mail(to or sub.email, f"{prefix}{update.heading}", lines, page_url, unsubscribe_url, site_name, parts)


def _mail(to: str, subject: str, lines: list[str], page_url: str, unsubscribe_url: str, site_name: str,
          parts: list[str]) -> Mail:
    """The message (plain text, and HTML from the stored sanitised body) with the page link, the unsubscribe link
    and RFC 8058 one-click unsubscribe headers."""
    lines = [*lines, f"全文：{page_url}", "", f"退订：{unsubscribe_url}", f"—— {site_name}"]
    page, unsubscribe = escape(page_url), escape(unsubscribe_url)
    parts = [*parts, f'<p>全文：<a href="{page}">{page}</a></p>',
             f'<p class="small">退订：<a href="{unsubscribe}">{unsubscribe}</a><br>—— {escape(site_name)}</p>']
    return Mail(
        to=to,
        subject=subject,
        text="\n".join(lines),
        headers={"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        html="".join(parts),
    )


def release_mail(sub: Subscription, release: Release, page_url: str, unsubscribe_url: str, site_name: str,
                 to: str | None = None) -> Mail:
    """One release (or its correction) for one subscriber, with RFC 8058 one-click unsubscribe headers."""
    prefix = "【更正】" if release.edition > 1 else ""
    lines = [f"{release.type_label}：{release.title}", ""]
    parts = [f"<h2>{escape(release.type_label)}：{escape(release.title)}</h2>"]
    if release.is_rumour:
        lines += ["网传说法（谣言）：", markdown_to_text(release.rumour_md), "", "事实真相："]
        parts += ["<h3>网传说法（谣言）</h3>", release.rumour_html, "<h3>事实真相</h3>"]
    lines += [markdown_to_text(release.body_md), ""]
    parts.append(release.body_html)
    if release.corrections:
        note = f"更正说明：{release.corrections[-1].change_note}"
        lines += [note, ""]
        parts.append(f"<p><strong>{escape(note)}</strong></p>")
    return _mail(to or sub.email, f"{prefix}【{release.type_label}】{release.title}", lines, page_url, unsubscribe_url,
                 site_name, parts)
