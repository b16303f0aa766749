"""Alerts (预警): a 重大 story pushed at once, once; digests at patrol times; deliveries with their own state."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models.watch import (
    ALERT_DIGEST,
    ALERT_IMMEDIATE,
    DELIVERY_FAILED,
    DELIVERY_QUEUED,
    DELIVERY_SENT,
    WatchAlertDelivery,
    WatchAlertedItem,
    WatchCluster,
    WatchDepartmentChannel,
    WatchItem,
    WatchMatch,
    WatchPlan,
)
from portal.services.watch.channels import channel_key, urls_of
from portal.services.watch.items import cluster_platforms
from portal.services.watch.settings import WatchSettings
from portal.timeutil import BEIJING, to_beijing

log = logging.getLogger("portal.watch")
DIGEST_LOOKBACK = timedelta(days=3)
DIGEST_MAX_ITEMS = 50
Notifier = Callable[[str, str, str], bool]  # (url, title, body) -> delivered


def _dept_urls(session: Session, department_id: int | None) -> list[str]:
    if department_id is None:
        return []
    return urls_of(session.get(WatchDepartmentChannel, department_id))


def channels_for(session: Session, plan: WatchPlan, item: WatchItem, settings: WatchSettings) -> list[str]:
    """The plan's channels and the department's; the default channels when neither names one."""
    urls = plan.channel_urls() + _dept_urls(session, plan.department_id or item.department_id)
    return list(dict.fromkeys(urls or settings.alert_urls))


def _line(item: WatchItem) -> str:
    when = to_beijing(item.first_seen_at).strftime("%m-%d %H:%M")
    return f"· [{item.source.platform}] {item.source.name}：{item.title}（{when} 首次发现）{item.url}"


def _queue(session: Session, kind: str, url: str, title: str, body: str, now: datetime, items: list[WatchItem],
           cluster_id: int | None = None) -> WatchAlertDelivery:
    delivery = WatchAlertDelivery(kind=kind, channel=url, channel_key=channel_key(url), cluster_id=cluster_id,
                                  title=title, body=body, status=DELIVERY_QUEUED, next_attempt_at=now, created_at=now)
    session.add(delivery)
    session.flush()
    for item in items:
        session.add(WatchAlertedItem(channel_key=delivery.channel_key, item_id=item.id, delivery_id=delivery.id))
    return delivery


def queue_immediate(session: Session, matches: list[WatchMatch], now: datetime, settings: WatchSettings) -> int:
    """Queue one push per channel for each story newly matched by a 重大 plan; a story is pushed once."""
    queued = 0
    for match in matches:
        plan, item = match.plan, match.item
        if plan.severity != "重大" or item.cluster is None or item.cluster.alerted_at is not None:
            continue
        cluster = item.cluster
        cluster.alerted_at = now
        title = f"【重大舆情】{plan.name}：{item.title[:60]}"
        body = "\n".join([
            _line(item), f"命中词：{match.words}",
            (item.text[:300] + ("……" if len(item.text) > 300 else "")) if item.text else "",
        ]).strip()
        for url in channels_for(session, plan, item, settings):
            _queue(session, ALERT_IMMEDIATE, url, title, body, now, [item], cluster.id)
            queued += 1
    session.commit()
    return queued


def last_patrol(now: datetime, settings: WatchSettings) -> datetime:
    """The latest patrol time (Beijing) at or before now."""
    local = to_beijing(now)
    slots = []
    for text in settings.digest_times:
        hour, _, minute = text.partition(":")
        slot = datetime.combine(local.date(), time(int(hour), int(minute or 0)), BEIJING)
        slots.extend([slot, slot - timedelta(days=1)])
    return max(s for s in slots if s <= local)


def send_digests(session: Session, now: datetime, settings: WatchSettings) -> int:
    """Queue each channel's digest of what it was not told yet; never empty, once per patrol time, spaced out."""
    slot = last_patrol(now, settings)
    told: dict[str, set[int]] = defaultdict(set)
    told_rows = select(WatchAlertedItem.channel_key, WatchAlertedItem.item_id).join(
        WatchItem, WatchItem.id == WatchAlertedItem.item_id).where(WatchItem.first_seen_at >= now - DIGEST_LOOKBACK)
    for key, item_id in session.execute(told_rows):
        told[key].add(item_id)
    pending: dict[str, dict[str, list]] = defaultdict(lambda: {"match": [], "spread": []})
    urls: dict[str, str] = {}
    # Stories pushed to a channel: their later items are told as the story's spread.
    pushed: dict[str, set[int]] = defaultdict(set)
    for key, url, cluster_id in session.execute(select(
            WatchAlertDelivery.channel_key, WatchAlertDelivery.channel, WatchAlertDelivery.cluster_id).where(
            WatchAlertDelivery.kind == ALERT_IMMEDIATE, WatchAlertDelivery.created_at >= now - DIGEST_LOOKBACK)):
        urls[key] = url
        pushed[key].add(cluster_id)

    def add(key: str, item: WatchItem) -> None:
        if item.id in told[key] or item in pending[key]["match"] or item in pending[key]["spread"]:
            return
        pending[key]["spread" if item.cluster_id in pushed[key] else "match"].append(item)

    recent = session.scalars(select(WatchMatch).join(WatchItem).where(
        WatchItem.first_seen_at >= now - DIGEST_LOOKBACK).order_by(WatchItem.first_seen_at))
    for match in recent:
        for url in channels_for(session, match.plan, match.item, settings):
            urls[channel_key(url)] = url
            add(channel_key(url), match.item)
    for key, cluster_ids in pushed.items():
        for cluster_id in cluster_ids:
            cluster = session.get(WatchCluster, cluster_id)
            for item in cluster.items if cluster else []:
                add(key, item)
    queued = 0
    for key, found in pending.items():
        items = (found["match"] + found["spread"])[:DIGEST_MAX_ITEMS]
        if not items:
            continue  # never an empty digest
        last = session.scalar(select(func.max(WatchAlertDelivery.created_at)).where(
            WatchAlertDelivery.channel_key == key, WatchAlertDelivery.kind == ALERT_DIGEST))
        if last is not None and to_beijing(last) >= slot:
            continue  # this patrol time's digest went out already
        latest = session.scalar(select(func.max(WatchAlertDelivery.created_at)).where(
            WatchAlertDelivery.channel_key == key))
        if latest is not None and now - latest < timedelta(minutes=settings.digest_min_interval_minutes):
            continue  # the channel heard from us a moment ago: wait for the next patrol time
        lines = [f"巡查时间 {slot.strftime('%m-%d %H:%M')}，新命中 {len(found['match'])} 条。"]
        lines += [_line(i) for i in found["match"][:DIGEST_MAX_ITEMS]]
        if found["spread"]:
            lines.append("已预警事件的扩散：")
            for item in found["spread"][:DIGEST_MAX_ITEMS]:
                places = "、".join(f"{name}（{platform}）" for name, platform, _ in cluster_platforms(item.cluster))
                lines.append(_line(item) + f"；已出现在：{places}")
        _queue(session, ALERT_DIGEST, urls[key], f"舆情摘要 {slot.strftime('%m-%d %H:%M')}（{len(items)} 条）",
               "\n".join(lines), now, items)
        queued += 1
    session.commit()
    return queued


def apprise_notify(url: str, title: str, body: str) -> bool:
    """Send through Apprise (WeCom, DingTalk, Feishu robots, mail, JSON webhooks ...)."""
    import apprise

    sender = apprise.Apprise()
    if not sender.add(url):
        return False
    return bool(sender.notify(title=title, body=body))


def send_due_alerts(session: Session, now: datetime, settings: WatchSettings, notify: Notifier | None = None) -> int:
    """Send the queued deliveries whose time has come; a failure waits longer each time, then gives up."""
    notify = notify or apprise_notify
    due = list(session.scalars(select(WatchAlertDelivery).where(
        WatchAlertDelivery.status == DELIVERY_QUEUED, WatchAlertDelivery.next_attempt_at <= now,
    ).order_by(WatchAlertDelivery.id).limit(200)))
    sent = 0
    for delivery in due:
        delivery.attempts += 1
        try:
            ok = notify(delivery.channel, delivery.title, delivery.body)
            error = "" if ok else "推送失败（渠道未接受）"
        except Exception as exc:  # a broken channel must not stop the others
            ok, error = False, f"{type(exc).__name__}: {str(exc)[:300]}"
        if ok:
            delivery.status, delivery.sent_at, delivery.last_error = DELIVERY_SENT, now, ""
            sent += 1
        else:
            delivery.last_error = error
            if delivery.attempts >= settings.alert_max_attempts:
                delivery.status = DELIVERY_FAILED
            else:
                delivery.next_attempt_at = now + timedelta(minutes=2 ** delivery.attempts)
            log.warning("watch alert %s to channel %s failed: %s", delivery.id, delivery.channel_key, error)
        session.commit()
    return sent
