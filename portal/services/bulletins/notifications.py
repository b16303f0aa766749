"""After-commit side effects of a publication: WebSub pings and subscriber e-mails, with pending sends kept.

A bulletin update or a press release is committed before anything here runs, so a failing mail server or hub can
never lose it. One whose e-mails did not go out keeps `notified_at` NULL; `flask send-due-notifications` retries
those and sends the ones whose scheduled time has come.
"""

from __future__ import annotations

import logging
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.models import Release, Subscription, Update
from portal.services.bulletins import subscriptions
from portal.services.ops.mailer import MailError, SmtpSettings, send_all
from portal.timeutil import utcnow

log = logging.getLogger(__name__)


class Links(Protocol):
    """Absolute URLs, built by the web layer (services know no routes)."""

    def update_page(self, update: Update) -> str: ...

    def unsubscribe(self, sub: Subscription) -> str: ...

    def feeds_for(self, update: Update) -> list[str]: ...

    def release_page(self, release: Release) -> str: ...

    def release_feeds(self, release: Release) -> list[str]: ...


@dataclass
class Outcome:
    """What one notification run did."""

    updates: int = 0
    releases: int = 0
    mails: int = 0
    failed: int = 0
    pings: int = 0


def ping_hub(hub: str, feed_urls: Iterable[str], timeout: float = 3.0) -> int:
    """Tell a WebSub hub the feeds changed (hub.mode=publish); failures are logged, never raised."""
    done = 0
    if not hub:
        return 0
    if urllib.parse.urlsplit(hub).scheme not in ("http", "https"):
        log.warning("PORTAL_WEBSUB_HUB must be an http(s) URL, not %r: no ping sent", hub)
        return 0
    for url in feed_urls:
        data = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": url}).encode()
        request = urllib.request.Request(hub, data=data, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            # The hub is an http(s) URL from the configuration (checked above), never user input.
            with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec B310
                response.read(1024)
            done += 1
        except Exception as exc:  # noqa: BLE001 - a hub outage must never fail a publication
            log.warning("WebSub ping to %s for %s failed: %s", hub, url, exc)
    return done


def pending(session: Session, now: datetime | None = None) -> list[Update]:
    """Visible updates whose current edition has not been announced yet, oldest first."""
    now = now or utcnow()
    stmt = (
        select(Update)
        .where(Update.publish_at <= now, Update.notified_at.is_(None), Update.withdrawn_at.is_(None))
        .options(selectinload(Update.incident))
        .order_by(Update.publish_at, Update.id)
    )
    return list(session.scalars(stmt))


def notify(
    session: Session, update: Update, links: Links, smtp: SmtpSettings, hub: str, site_name: str
) -> Outcome:
    """Ping the hub and mail the subscribers for one update; marks it notified only when the mail went out."""
    out = Outcome(updates=1)
    out.pings = ping_hub(hub, links.feeds_for(update))
    subs = subscriptions.recipients(session, update)
    mails = [
        subscriptions.update_mail(sub, update, links.update_page(update), links.unsubscribe(sub), site_name)
        for sub in subs
    ]
    return _mail_then_mark(session, update, f"update {update.id}", mails, smtp, out)


def _mail_then_mark(session: Session, item: Update | Release, label: str, mails: list, smtp: SmtpSettings,
                    out: Outcome) -> Outcome:
    """Send the mails; mark the item notified only when they went out, else keep it pending for the next run."""
    try:
        out.mails = send_all(smtp, mails) if mails else 0
    except MailError as exc:
        log.error("%s: %d e-mails not sent, kept pending: %s", label, len(mails), exc)
        out.failed = len(mails)
        session.rollback()
        return out
    item.notified_at = utcnow()
    session.commit()
    return out


def pending_releases(session: Session, now: datetime | None = None) -> list[Release]:
    """Visible, not withdrawn releases whose current edition has not been announced yet, oldest first."""
    now = now or utcnow()
    stmt = (
        select(Release)
        .where(Release.publish_at <= now, Release.notified_at.is_(None), Release.withdrawn_at.is_(None))
        .order_by(Release.publish_at, Release.id)
    )
    return list(session.scalars(stmt))


def notify_release(
    session: Session, release: Release, links: Links, smtp: SmtpSettings, hub: str, site_name: str
) -> Outcome:
    """Ping the hub for the release feeds and mail release subscribers; marked notified only when the mail went out."""
    out = Outcome(releases=1)
    out.pings = ping_hub(hub, links.release_feeds(release))
    page = links.release_page(release)
    mails = [
        subscriptions.release_mail(sub, release, page, links.unsubscribe(sub), site_name)
        for sub in subscriptions.release_recipients(session)
    ]
    return _mail_then_mark(session, release, f"release {release.id}", mails, smtp, out)


def send_due(session: Session, links: Links, smtp: SmtpSettings, hub: str, site_name: str) -> Outcome:
    """Announce every pending visible update and release (scheduled ones that came due, and earlier failures)."""
    total = Outcome()
    runs = [notify(session, u, links, smtp, hub, site_name) for u in pending(session)]
    runs += [notify_release(session, r, links, smtp, hub, site_name) for r in pending_releases(session)]
    for one in runs:
        total.updates += one.updates
        total.releases += one.releases
        total.mails += one.mails
        total.failed += one.failed
        total.pings += one.pings
    return total
