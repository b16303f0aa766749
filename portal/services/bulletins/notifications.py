"""Announcing a publication: fan it out into one delivery per subscriber (and per WebSub topic), then render them.

Publishing never mails or pings. An update or a release whose current edition is not announced yet keeps
`notified_at` NULL (a correction clears it again; a withdrawal of a release too, for its pings). The worker's
`fan_out_due` turns each such item that is visible now into delivery rows, in one transaction with marking it
announced, so a lost worker loses nothing and a second run adds nothing. The messages themselves are built at
send time by the renderers below, from the item as it is then (a delivery for an edition that was corrected or
withdrawn meanwhile is dropped, never sent stale).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session, selectinload

from portal.models import Delivery, Release, Subscription, Update
from portal.models.delivery import CHANNEL_MAIL, CHANNEL_PING, QUEUED, SUBJECT_RELEASE, SUBJECT_UPDATE
from portal.services import audit
from portal.services.bulletins import subscriptions
from portal.services.ops.delivery import Skip
from portal.services.ops.mailer import Mail
from portal.timeutil import utcnow

log = logging.getLogger(__name__)


class Links(Protocol):
    """Absolute URLs from the configured base URL (services know no routes)."""

    def update_page(self, update: Update) -> str: ...

    def unsubscribe(self, sub: Subscription) -> str: ...

    def confirm(self, sub: Subscription) -> str: ...

    def feeds_for(self, update: Update) -> list[str]: ...

    def release_page(self, release: Release) -> str: ...

    def release_feeds(self, release: Release) -> list[str]: ...

    def question_page(self, number: str) -> str: ...


@dataclass
class Outcome:
    """What one fan-out run queued."""

    updates: int = 0
    releases: int = 0
    mails: int = 0
    pings: int = 0


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


def pending_releases(session: Session, now: datetime | None = None) -> list[Release]:
    """Visible releases whose current edition (or withdrawal) has not been announced yet, oldest first; a release
    withdrawn before its time (cancelled) was never visible and is never announced."""
    now = now or utcnow()
    stmt = (select(Release).where(Release.publish_at <= now, Release.notified_at.is_(None),
                                  or_(Release.withdrawn_at.is_(None), Release.withdrawn_at >= Release.publish_at))
            .order_by(Release.publish_at, Release.id))
    return list(session.scalars(stmt))


def _rows(topic: str, subject_type: str, subject_id: int, edition: int, subs, feeds: list[str],
          now: datetime) -> tuple[list[dict], int, int]:
    common = dict(topic=topic, subject_type=subject_type, subject_id=subject_id, edition=edition, state=QUEUED,
                  attempts=0, next_attempt_at=now, created_at=now)
    rows, seen = [], set()
    for sub_id, email in subs:
        key = email.casefold()
        if key in seen:  # one address subscribed twice (all bulletins and this incident): one copy
            continue
        seen.add(key)
        rows.append({**common, "channel": CHANNEL_MAIL, "subscription_id": sub_id, "recipient": email})
    mails = len(rows)
    rows += [{**common, "channel": CHANNEL_PING, "subscription_id": None, "recipient": url} for url in feeds]
    return rows, mails, len(rows) - mails


def _store(session: Session, rows: list[dict]) -> None:
    for start in range(0, len(rows), 5000):
        session.execute(insert(Delivery), rows[start:start + 5000])


def fan_out_update(session: Session, update: Update, links: Links, hub: str, now: datetime) -> Outcome:
    """Queue one mail per active subscriber and one ping per feed for the update; mark it announced. Commits."""
    subs = session.execute(subscriptions.recipients_stmt(update.incident_id).with_only_columns(
        Subscription.id, Subscription.email)).all()
    feeds = links.feeds_for(update) if hub else []
    rows, mails, pings = _rows(f"update:{update.id}:{update.edition}", SUBJECT_UPDATE, update.id, update.edition,
                               subs, feeds, now)
    _store(session, rows)
    update.notified_at = now
    audit.record(session, None, "update.announced", "update", update.id, edition=update.edition, mails=mails,
                 pings=pings)
    session.commit()
    return Outcome(updates=1, mails=mails, pings=pings)


def fan_out_release(session: Session, release: Release, links: Links, hub: str, now: datetime) -> Outcome:
    """Queue mails and pings for a release (or its correction); a withdrawal is pinged only. Commits."""
    feeds = links.release_feeds(release) if hub else []
    if release.withdrawn_at is not None:
        topic, subs = f"release:{release.id}:withdrawn", []
    else:
        topic = f"release:{release.id}:{release.edition}"
        subs = session.execute(subscriptions.release_recipients_stmt().with_only_columns(
            Subscription.id, Subscription.email)).all()
    rows, mails, pings = _rows(topic, SUBJECT_RELEASE, release.id, release.edition, subs, feeds, now)
    _store(session, rows)
    release.notified_at = now
    audit.record(session, None, "release.announced", "release", release.id, edition=release.edition, mails=mails,
                 pings=pings, withdrawn=release.withdrawn_at is not None)
    session.commit()
    return Outcome(releases=1, mails=mails, pings=pings)


def fan_out_due(session: Session, links: Links, hub: str, now: datetime | None = None) -> Outcome:
    """Fan out every visible update and release not announced yet (just published, came due, corrected)."""
    now = now or utcnow()
    total = Outcome()
    items: list[Update | Release] = [*pending(session, now), *pending_releases(session, now)]
    for item in items:
        if isinstance(item, Update):
            one = fan_out_update(session, item, links, hub, now)
        else:
            one = fan_out_release(session, item, links, hub, now)
        total.updates += one.updates
        total.releases += one.releases
        total.mails += one.mails
        total.pings += one.pings
    return total


# ---- rendering at send time -------------------------------------------------------------------------------


def _subscriptions(session: Session, rows: list[Delivery]) -> dict[int, Subscription]:
    ids = {d.subscription_id for d in rows if d.subscription_id is not None}
    if not ids:
        return {}
    return {s.id: s for s in session.scalars(select(Subscription).where(Subscription.id.in_(ids)))}


def _for_subscriber(sub: Subscription | None) -> Skip | None:
    """Why a subscriber must not get the message any more, or None."""
    if sub is None:
        return Skip("订阅已删除")
    if sub.unsubscribed_at is not None:
        return Skip("已退订")
    if sub.suspended_at is not None:
        return Skip("订阅因多次退信已暂停")
    return None


def _publication_renderer(load, what: str, build):
    """Build each delivery's mail from the update or release as it is now: `load(session, ids)` finds them by id,
    `build(subscription, item, recipient)` makes the mail; a withdrawn one or an older edition is skipped."""

    def render(session: Session, rows: list[Delivery]) -> dict[int, Mail | Skip]:
        subs = _subscriptions(session, rows)
        found = load(session, {d.subject_id for d in rows})
        out: dict[int, Mail | Skip] = {}
        for d in rows:
            item = found.get(d.subject_id)
            if item is None or item.withdrawn_at is not None:
                out[d.id] = Skip(f"{what}已撤回，不再发送")
            elif item.edition != d.edition:
                out[d.id] = Skip(f"{what}已有更正版本，改发更正")
            else:
                sub = subs.get(d.subscription_id or 0)
                out[d.id] = _for_subscriber(sub) or build(sub, item, d.recipient)
        return out

    return render


def update_renderer(links: Links, site_name: str):
    """Build the mail for each update delivery from the update as it is now."""

    def load(session: Session, ids: set[int]) -> dict[int, Update]:
        return {u.id: u for u in session.scalars(
            select(Update).where(Update.id.in_(ids)).options(selectinload(Update.incident),
                                                            selectinload(Update.editions)))}

    return _publication_renderer(load, "通报", lambda sub, update, to: subscriptions.update_mail(
        sub, update, links.update_page(update), links.unsubscribe(sub), site_name, to=to))


def release_renderer(links: Links, site_name: str):
    """Build the mail for each release delivery from the release as it is now."""

    def load(session: Session, ids: set[int]) -> dict[int, Release]:
        return {r.id: r for r in session.scalars(select(Release).where(Release.id.in_(ids)))}

    return _publication_renderer(load, "稿件", lambda sub, release, to: subscriptions.release_mail(
        sub, release, links.release_page(release), links.unsubscribe(sub), site_name, to=to))


def confirmation_renderer(links: Links, site_name: str):
    """The double opt-in message for each confirmation delivery."""

    def render(session: Session, rows: list[Delivery]) -> dict[int, Mail | Skip]:
        subs = {s.id: s for s in session.scalars(
            select(Subscription).where(Subscription.id.in_({d.subject_id for d in rows})))}
        out: dict[int, Mail | Skip] = {}
        for d in rows:
            sub = subs.get(d.subject_id)
            if sub is None or sub.unsubscribed_at is not None:
                out[d.id] = Skip("订阅已取消")
            elif sub.confirmed_at is not None:
                out[d.id] = Skip("订阅已确认")
            else:
                out[d.id] = subscriptions.confirmation_mail(sub, links.confirm(sub), site_name)
        return out

    return render


def topic_renderer(session: Session, rows: list[Delivery]) -> dict[int, str]:  # noqa: ARG001
    """A ping's content is its topic URL, fixed at fan-out from the configured base URL."""
    return {d.id: d.recipient for d in rows}
