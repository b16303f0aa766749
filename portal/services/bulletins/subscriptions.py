"""E-mail subscriptions: subscribe (double opt-in), confirm, one-click unsubscribe, who gets an update or a release."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import NotFound, ValidationFailed
from portal.models import Incident, Release, Subscription, Update
from portal.models.subscription import KIND_BULLETINS, KIND_RELEASES, SUBSCRIPTION_KINDS
from portal.services import audit
from portal.services.ops.mailer import Mail
from portal.timeutil import utcnow

EMAIL_RE = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\.[A-Za-z]{2,}$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def normalise_email(email: str) -> str:
    """Trimmed, with the domain lower-cased."""
    email = door.clean(email or "").strip()
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}" if local else email


def subscribe(session: Session, email: str, incident: Incident | None, kind: str = KIND_BULLETINS) -> Subscription:
    """Record a subscription awaiting confirmation (a repeat request gets the same pending row back).

    `kind` is "bulletins" (all of them, or one `incident`'s) or "releases" (every press release).
    """
    if kind not in SUBSCRIPTION_KINDS:
        raise ValidationFailed({"incident": "请选择订阅范围。"})
    if kind == KIND_RELEASES:
        incident = None
    email = normalise_email(email)
    if not email:
        raise ValidationFailed({"email": "请填写电子邮箱。"})
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise ValidationFailed({"email": "电子邮箱格式不正确，例如 name@example.com。"})
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
        return existing
    sub = Subscription(email=email, kind=kind, incident_id=incident_id, token=secrets.token_urlsafe(32),
                       created_at=utcnow())
    session.add(sub)
    session.flush()
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
    """The second opt-in: the link in the confirmation e-mail."""
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


def recipients(session: Session, update: Update) -> list[Subscription]:
    """Confirmed, active subscriptions to all bulletins or to this update's incident."""
    stmt = select(Subscription).where(
        Subscription.kind == KIND_BULLETINS,
        Subscription.confirmed_at.is_not(None),
        Subscription.unsubscribed_at.is_(None),
        or_(Subscription.incident_id.is_(None), Subscription.incident_id == update.incident_id),
    )
    return list(session.scalars(stmt.order_by(Subscription.id)))


def release_recipients(session: Session) -> list[Subscription]:
    """Confirmed, active subscriptions to press releases."""
    stmt = select(Subscription).where(
        Subscription.kind == KIND_RELEASES,
        Subscription.confirmed_at.is_not(None),
        Subscription.unsubscribed_at.is_(None),
    )
    return list(session.scalars(stmt.order_by(Subscription.id)))


def confirmation_mail(sub: Subscription, confirm_url: str, site_name: str) -> Mail:
    """The double opt-in message."""
    what = sub.what
    nothing = "任何新闻发布稿件" if sub.kind == KIND_RELEASES else "任何通报"
    text = (
        f"您好：\n\n有人（希望是您本人）在{site_name}用这个邮箱订阅了{what}。\n"
        f"请打开下面的链接确认订阅：\n\n{confirm_url}\n\n如果不是您本人操作，请忽略本邮件，您不会收到{nothing}。\n"
    )
    return Mail(to=sub.email, subject=f"请确认订阅：{what}", text=text)


def update_mail(sub: Subscription, update: Update, page_url: str, unsubscribe_url: str, site_name: str) -> Mail:
    """One update (or its correction) for one subscriber, with RFC 8058 one-click unsubscribe headers."""
    prefix = "【更正】" if update.edition > 1 else ""
    lines = [f"{update.incident.title}", "", update.heading, "", update.body_md, ""]
    if update.corrections:
        lines += [f"更正说明：{update.corrections[-1].change_note}", ""]
    return _mail(sub, f"{prefix}{update.heading}", lines, page_url, unsubscribe_url, site_name)


def _mail(sub: Subscription, subject: str, lines: list[str], page_url: str, unsubscribe_url: str,
          site_name: str) -> Mail:
    """The message with the page link, the unsubscribe link and RFC 8058 one-click unsubscribe headers."""
    lines = [*lines, f"全文：{page_url}", "", f"退订：{unsubscribe_url}", f"—— {site_name}"]
    return Mail(
        to=sub.email,
        subject=subject,
        text="\n".join(lines),
        headers={"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )


def release_mail(sub: Subscription, release: Release, page_url: str, unsubscribe_url: str, site_name: str) -> Mail:
    """One release (or its correction) for one subscriber, with RFC 8058 one-click unsubscribe headers."""
    prefix = "【更正】" if release.edition > 1 else ""
    lines = [f"{release.type_label}：{release.title}", ""]
    if release.is_rumour:
        lines += ["网传说法（谣言）：", release.rumour_md, "", "事实真相："]
    lines += [release.body_md, ""]
    if release.corrections:
        lines += [f"更正说明：{release.corrections[-1].change_note}", ""]
    return _mail(sub, f"{prefix}【{release.type_label}】{release.title}", lines, page_url, unsubscribe_url, site_name)
