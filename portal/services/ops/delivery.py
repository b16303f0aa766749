"""The delivery engine: claim due deliveries in small batches, send each, record each outcome.

- A batch is claimed with one UPDATE (state queued -> sending, a claim token, the time), so two workers never
  take the same row, on SQLite and PostgreSQL alike.
- Every outcome of a batch is committed together, once the batch is done. A worker killed mid-batch leaves its
  rows in `sending`; when their lease (`lease_seconds`) runs out they are queued again. So nothing is lost and at
  most one batch per worker thread (`batch` rows) can be sent twice: the in-flight bound.
- 5xx for one recipient: that delivery is `bounced` and its subscription counts a bounce (suspended after
  `max_bounces` in a row); 4xx for one recipient: retried later, and given up (`failed`) after `max_attempts`;
  relay or hub down / timing out: the batch goes back to the queue without counting an attempt and the run stops.
  Retries back off exponentially with jitter.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.models import Delivery, Subscription
from portal.models.delivery import BOUNCED, FAILED, QUEUED, SENDING, SENT, STATES
from portal.services import audit
from portal.services.ops.transports import Refused, RelayDown, Retry, Undeliverable
from portal.timeutil import utcnow

log = logging.getLogger(__name__)



class Skip(str):
    """Why a delivery has nothing to send any more (withdrawn, superseded, unsubscribed, address purged)."""


# A renderer turns claimed deliveries of one subject type into what to send (a Mail, a topic URL) or a Skip.
Renderer = Callable[[Session, list[Delivery]], Mapping[int, object]]


@dataclass(frozen=True)
class DeliverySettings:
    """How the engine batches, retries and gives up (PORTAL_DELIVERY_*)."""

    batch: int = 50
    max_attempts: int = 8
    retry_base_seconds: float = 30.0
    retry_cap_seconds: float = 3600.0
    lease_seconds: float = 300.0
    max_bounces: int = 3

    @classmethod
    def from_config(cls, config: Mapping) -> DeliverySettings:
        return cls(
            batch=int(config.get("DELIVERY_BATCH", 50)), max_attempts=int(config.get("DELIVERY_MAX_ATTEMPTS", 8)),
            retry_base_seconds=float(config.get("DELIVERY_RETRY_SECONDS", 30)),
            retry_cap_seconds=float(config.get("DELIVERY_RETRY_CAP_SECONDS", 3600)),
            lease_seconds=float(config.get("DELIVERY_LEASE_SECONDS", 300)),
            max_bounces=int(config.get("SUBSCRIPTION_MAX_BOUNCES", 3)),
        )


@dataclass
class DrainReport:
    """What one drain run did."""

    sent: int = 0
    bounced: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0
    relay_down: str | None = None
    connections: int = 0
    by_subject: dict[str, int] = field(default_factory=dict)

    @property
    def attempted(self) -> int:
        return self.sent + self.bounced + self.retried + self.failed


def backoff(attempts: int, settings: DeliverySettings, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with jitter: between half and all of base * 2^(attempts-1), capped."""
    ceiling = min(settings.retry_cap_seconds, settings.retry_base_seconds * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=ceiling * (rng or random).uniform(0.5, 1.0))


def requeue_stale(session: Session, channel: str, settings: DeliverySettings, now: datetime | None = None) -> int:
    """Put back rows claimed by a worker that died (their lease ran out); returns how many. Commits."""
    cutoff = (now or utcnow()) - timedelta(seconds=settings.lease_seconds)
    done = session.execute(
        update(Delivery)
        .where(Delivery.channel == channel, Delivery.state == SENDING, Delivery.claimed_at < cutoff)
        .values(state=QUEUED, claim=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    if done:
        log.warning("%d %s deliveries were in flight in a worker that stopped: queued again", done, channel)
    return done


def claim(session: Session, channel: str, limit: int, due_by: datetime) -> list[Delivery]:
    """Take up to `limit` due deliveries for this worker (one atomic UPDATE), oldest first. Commits."""
    token = secrets.token_hex(8)
    due = (select(Delivery.id)
           .where(Delivery.channel == channel, Delivery.state == QUEUED, Delivery.next_attempt_at <= due_by)
           .order_by(Delivery.id).limit(limit))
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()), Delivery.state == QUEUED)
        .values(state=SENDING, claim=token, claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return list(session.scalars(select(Delivery).where(Delivery.claim == token).order_by(Delivery.id)))


def _bounce(session: Session, delivery: Delivery, reason: str, settings: DeliverySettings, now: datetime) -> None:
    if delivery.subscription_id is None:
        return
    sub = session.get(Subscription, delivery.subscription_id)
    if sub is None:
        return
    sub.bounce_count = (sub.bounce_count or 0) + 1
    sub.last_bounce = reason[:500]
    if sub.suspended_at is None and sub.bounce_count >= settings.max_bounces:
        sub.suspended_at = now
        audit.record(session, None, "subscription.suspended", "subscription", sub.id, bounces=sub.bounce_count,
                     reason=reason[:200])


def _retry_or_give_up(delivery: Delivery, reason: str, settings: DeliverySettings, now: datetime,
                      report: DrainReport) -> None:
    delivery.last_error = reason[:500]
    if delivery.attempts >= settings.max_attempts:
        delivery.state = FAILED
        report.failed += 1
    else:
        delivery.state = QUEUED
        delivery.next_attempt_at = now + backoff(delivery.attempts, settings)
        report.retried += 1
    delivery.claim = delivery.claimed_at = None


def drain(session: Session, channel: str, transport, renderers: Mapping[str, Renderer],
          settings: DeliverySettings, after_batch: Callable[[Session, list[Delivery]], None] | None = None,
          max_batches: int | None = None) -> DrainReport:
    """Send every delivery of `channel` that is due now, batch by batch; stops early when the relay is down."""
    report = DrainReport()
    started = utcnow()
    requeue_stale(session, channel, settings, started)
    batches = 0
    try:
        while max_batches is None or batches < max_batches:
            batch = claim(session, channel, settings.batch, started)
            if not batch:
                break
            batches += 1
            _send_batch(session, batch, transport, renderers, settings, report)
            if after_batch is not None:
                after_batch(session, batch)
            session.commit()
            if report.relay_down:
                break
    finally:
        transport.close()
        report.connections = getattr(transport, "opened", 0)
    return report


def _render(session: Session, batch: list[Delivery], renderers: Mapping[str, Renderer]) -> dict[int, object]:
    contents: dict[int, object] = {}
    by_type: dict[str, list[Delivery]] = {}
    for d in batch:
        by_type.setdefault(d.subject_type, []).append(d)
    for subject_type, rows in by_type.items():
        render = renderers.get(subject_type)
        if render is None:
            contents.update({d.id: Skip(f"no renderer for {subject_type}") for d in rows})
            continue
        contents.update(render(session, rows))
    return contents


def _send_batch(session: Session, batch: list[Delivery], transport, renderers: Mapping[str, Renderer],
                settings: DeliverySettings, report: DrainReport) -> None:
    contents = _render(session, batch, renderers)
    delivered: list[int] = []
    for delivery in batch:
        now = utcnow()
        if report.relay_down:
            # Not attempted: back to the queue as it was (no attempt counted), due when the relay is back.
            delivery.state, delivery.claim, delivery.claimed_at = QUEUED, None, None
            delivery.next_attempt_at = now + backoff(max(delivery.attempts, 1), settings)
            report.released += 1
            continue
        content = contents.get(delivery.id)
        if content is None or isinstance(content, Skip):
            delivery.state, delivery.claim = FAILED, None
            delivery.last_error = (content or "nothing to send")[:500]
            report.failed += 1
            continue
        delivery.attempts += 1
        try:
            transport.send(content)
        except Refused as exc:
            delivery.state, delivery.claim, delivery.last_error = BOUNCED, None, str(exc)[:500]
            _bounce(session, delivery, str(exc), settings, now)
            report.bounced += 1
        except Undeliverable as exc:
            delivery.state, delivery.claim, delivery.last_error = FAILED, None, str(exc)[:500]
            report.failed += 1
        except Retry as exc:
            _retry_or_give_up(delivery, str(exc), settings, now, report)
        except RelayDown as exc:
            # The relay's fault, not this recipient's: no attempt is counted, so an outage of any length never
            # makes anyone's delivery fail; the run stops and the next one (after the backoff) tries again.
            report.relay_down = str(exc)[:500]
            log.warning("%s relay down, %d of the batch put back: %s", delivery.channel, len(batch), exc)
            delivery.attempts -= 1
            delivery.state, delivery.claim, delivery.claimed_at = QUEUED, None, None
            delivery.last_error = str(exc)[:500]
            delivery.next_attempt_at = now + backoff(delivery.attempts + 1, settings)
            report.retried += 1
        else:
            delivery.state, delivery.claim, delivery.sent_at, delivery.last_error = SENT, None, now, None
            report.sent += 1
            report.by_subject[delivery.subject_type] = report.by_subject.get(delivery.subject_type, 0) + 1
            if delivery.subscription_id is not None:
                delivered.append(delivery.subscription_id)
    if delivered:
        # A delivered message ends a run of bounces: only consecutive refusals suspend a subscription.
        session.execute(update(Subscription).where(Subscription.id.in_(delivered), Subscription.bounce_count > 0)
                        .values(bounce_count=0).execution_options(synchronize_session=False))


def counts(session: Session, subject_type: str, subject_ids: list[int]) -> dict[int, dict[str, dict[str, int]]]:
    """Per subject id, per channel, how many deliveries are in each state (for the console)."""
    out: dict[int, dict[str, dict[str, int]]] = {}
    if not subject_ids:
        return out
    rows = session.execute(
        select(Delivery.subject_id, Delivery.channel, Delivery.state, func.count())
        .where(Delivery.subject_type == subject_type, Delivery.subject_id.in_(subject_ids))
        .group_by(Delivery.subject_id, Delivery.channel, Delivery.state)
    )
    for subject_id, channel, state, n in rows:
        per = out.setdefault(subject_id, {}).setdefault(channel, dict.fromkeys(STATES, 0))
        per[state] = per.get(state, 0) + int(n)
    return out


def due_count(session: Session, now: datetime | None = None) -> int:
    """Deliveries queued and due now (the worker's backlog)."""
    return session.scalar(select(func.count(Delivery.id)).where(
        Delivery.state == QUEUED, Delivery.next_attempt_at <= (now or utcnow()))) or 0
