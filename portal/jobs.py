"""The background worker: the one place work is queued and scheduled (Huey), each job a thin call of a service.

Requests answer; the worker does the rest. Services never import this module: they record the work in their own
transaction (a delivery row, a search outbox row, an export job, an update or release with `notified_at` NULL),
and a session hook here notices those rows and, once the transaction has committed, queues the job that handles
them. Every job is also a periodic sweep over the same rows, so a queue message that is lost (a worker killed, a
queue wiped) only delays the work until the next sweep; nothing is lost, because the database holds it.

Queue storage (PORTAL_WORKER_URL): a SQLite file in the instance folder (one server, the default), Redis for
several servers (`redis://…`), or `memory://` (the tests: `flask worker --burst` in the same process).

    flask worker            # the consumer: worker threads plus Huey's scheduler for the periodic jobs
    flask worker --burst    # every sweep once, then every queued job that is due, then exit

Adding a periodic task (the watch feature's fetch cycle, say) is one small function here:

    @periodic(crontab(minute="*/5"))
    def fetch_watched_sources(app: Flask) -> dict[str, int]:
        \"\"\"Fetch the sources that are due.\"\"\"
        return {"fetched": watch.fetch_due(db.session, ...)}

It runs every five minutes in `flask worker`, once in every `flask worker --burst`, and `fetch_watched_sources()`
queues it at once (from a hook or another job). Return a dict of counts: `--burst` prints them. Alert deliveries
need no job of their own: write Delivery rows (channel "mail", or a new channel with its transport in `deliver`).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from huey import Huey, crontab
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from portal.config import ConfigError
from portal.extensions import db
from portal.models import Delivery, ExportJob, Release, SearchOutbox, Update
from portal.models.delivery import (
    CHANNEL_MAIL,
    CHANNEL_PING,
    SUBJECT_ANSWER,
    SUBJECT_CONFIRM,
    SUBJECT_NOTICE,
    SUBJECT_RELEASE,
    SUBJECT_UPDATE,
)
from portal.models.export import EXPORT_QUEUED
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

# One Huey for the process; init_app points its storage at the app's queue (decorators need it at import time).
huey = Huey("portal", storage_class=MemoryStorage, results=False, utc=True)
_state: dict[str, Any] = {"app": None}
PERIODIC: list = []  # the sweeps (Huey task wrappers), in the order `--burst` runs them
_WANTED = "portal_jobs_wanted"


def storage_for(url: str, instance_path: str) -> tuple[type, dict[str, Any]]:
    """The Huey storage class and arguments for PORTAL_WORKER_URL."""
    if not url:
        return SqliteStorage, {"filename": os.path.join(instance_path, "worker.db")}
    if url == "memory://":
        return MemoryStorage, {}
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStorage, {"url": url}
    if url.startswith("sqlite:///"):
        return SqliteStorage, {"filename": url.removeprefix("sqlite:///")}
    raise ConfigError(f"PORTAL_WORKER_URL={url!r}: use sqlite:///path, redis://host:6379/N or memory://")


def init_app(app: Flask) -> None:
    """Point the queue at the app's storage and install the session hook that queues jobs after commits."""
    storage_class, kwargs = storage_for(str(app.config.get("WORKER_URL") or ""), app.instance_path)
    huey.storage_class = storage_class
    huey.storage_kwargs = kwargs
    huey.storage = huey.create_storage()
    _state["app"] = app
    app.extensions["jobs"] = huey
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)


def _app() -> Flask:
    app = _state["app"]
    if app is None:
        raise RuntimeError("portal.jobs.init_app was not called")
    return app


def _in_app(fn: Callable[..., dict[str, int] | None]) -> Callable[[], dict[str, int]]:
    @functools.wraps(fn)
    def run() -> dict[str, int]:
        app = _app()
        with app.app_context():
            try:
                return fn(app) or {}
            except Exception:
                db.session.rollback()
                raise
            finally:
                db.session.remove()

    return run


def periodic(schedule) -> Callable:
    """Register a sweep: run on `schedule` by `flask worker`, once by `--burst`; calling it queues it now."""

    def decorate(fn: Callable[[Flask], dict[str, int] | None]):
        task = huey.periodic_task(schedule, name=fn.__name__)(_in_app(fn))
        PERIODIC.append(task)
        return task

    return decorate


# ---- the jobs ----------------------------------------------------------------------------------------------


@periodic(crontab(minute="*"))
def announce(app: Flask) -> dict[str, int]:
    """Fan out updates and releases that are visible and not announced (just published, came due, corrected)."""
    from portal.services.bulletins import notifications
    from portal.urls import UrlLinks

    outcome = notifications.fan_out_due(db.session, UrlLinks(), str(app.config["WEBSUB_HUB"] or ""))
    if outcome.mails or outcome.pings:
        _queue(deliver)
    return {"announced": outcome.updates + outcome.releases, "queued_mails": outcome.mails,
            "queued_pings": outcome.pings}


@periodic(crontab(minute="*"))
def deliver(app: Flask) -> dict[str, int]:
    """Send every mail and ping that is due (new ones, and retries whose backoff has passed)."""
    from portal.services.board.citizen_mail import answer_renderer
    from portal.services.bulletins import notifications
    from portal.services.desk import notices
    from portal.services.ops import delivery
    from portal.services.ops.mailer import SmtpSettings, mail_configured
    from portal.services.ops.transports import HubTransport, SmtpTransport
    from portal.urls import UrlLinks

    config = app.config
    settings = delivery.DeliverySettings.from_config(config)
    links, site = UrlLinks(), str(config["SITE_NAME"])
    out: dict[str, int] = {}
    if mail_configured(config):
        renderers = {
            SUBJECT_UPDATE: notifications.update_renderer(links, site),
            SUBJECT_RELEASE: notifications.release_renderer(links, site),
            SUBJECT_CONFIRM: notifications.confirmation_renderer(links, site),
            SUBJECT_ANSWER: answer_renderer(links.question_page, site),
            SUBJECT_NOTICE: notices.notice_renderer(site),
        }
        mail = delivery.drain(db.session, CHANNEL_MAIL, SmtpTransport(SmtpSettings.from_config(config)), renderers,
                              settings, after_batch=notices.record_mail_outcome)
        out.update(mails_sent=mail.sent, mails_bounced=mail.bounced, mails_retrying=mail.retried + mail.released,
                   mails_failed=mail.failed)
    hub = str(config["WEBSUB_HUB"] or "")
    if hub:
        # The hub's subscribers fetch the feed at once: this server's files of it are written first.
        from portal import pagetree

        pagetree.catch_up(app)
        topics = {SUBJECT_UPDATE: notifications.topic_renderer, SUBJECT_RELEASE: notifications.topic_renderer}
        ping = delivery.drain(db.session, CHANNEL_PING, HubTransport(hub), topics, settings)
        out.update(pings_sent=ping.sent, pings_retrying=ping.retried + ping.released, pings_failed=ping.failed)
    return out


# Whether this process has compared the index's recorded segmenter with its own (once per process, as the indexer
# thread does: during a rolling upgrade an old worker must not rebuild what a new one built, and back again).
_analyzer_checked = False


@periodic(crontab(minute="*"))
def index_search(app: Flask) -> dict[str, int]:
    """Rebuild a missing search index (or one another segmenter built), then apply the search outbox (one writer at
    a time: a lock)."""
    global _analyzer_checked
    from portal.search import backend
    from portal.search.indexer import drain, rebuild_if_missing, rebuild_if_stale

    root = app.config["SEARCH_INDEX_DIR"]
    search = backend()
    rebuilt = 0
    if not search.ready():
        rebuilt = rebuild_if_missing(db.session, search, root) or 0
    elif not _analyzer_checked:
        if not search.stale():
            _analyzer_checked = True
        elif (count := rebuild_if_stale(db.session, search, root)) is not None:
            rebuilt, _analyzer_checked = count, True
    applied = drain(db.session, search, root, blocking=True) if search.ready() else 0
    return {"indexed": applied, "index_rebuilt": rebuilt}


@periodic(crontab(minute="*"))
def run_exports(app: Flask) -> dict[str, int]:
    """Write every queued ledger export (each is claimed by one worker thread only)."""
    from pathlib import Path

    from sqlalchemy.orm import Session as OrmSession

    from portal.services.desk import exports

    done, folder, limit = 0, Path(app.config["EXPORT_DIR"]), int(app.config["EXPORT_MAX_ROWS"])
    ids = list(db.session.scalars(select(ExportJob.id).where(ExportJob.status == EXPORT_QUEUED).order_by(ExportJob.id)))
    db.session.rollback()
    for job_id in ids:
        write = OrmSession(db.engine, expire_on_commit=False)
        try:
            if exports.run(db.session, write, job_id, folder, limit):
                done += 1
        finally:
            write.close()
    return {"exports": done}


@periodic(crontab(minute="*/5"))
def notify_overdue(app: Flask) -> dict[str, int]:
    """Tell departments (on screen, and by mail through `deliver`) about questions that became overdue."""
    from portal.services.desk.notices import notify_overdue as sweep

    return {"overdue_notices": sweep(db.session, app.config)}


@periodic(crontab(minute="7"))
def purge_exports(app: Flask) -> dict[str, int]:
    """Delete finished export files older than PORTAL_EXPORT_KEEP_HOURS."""
    from datetime import timedelta
    from pathlib import Path

    from portal.services.desk import exports

    count = exports.purge(db.session, Path(app.config["EXPORT_DIR"]),
                          timedelta(hours=int(app.config["EXPORT_KEEP_HOURS"])))
    db.session.commit()
    return {"exports_expired": count}


@periodic(crontab(minute="23"))
def prune_page_changes(app: Flask) -> dict[str, int]:
    """Delete the static tree's page-change rows older than a day (portal/pagetree.py)."""
    from portal import pagetree

    return {"page_changes_pruned": pagetree.prune(db.session)}


@periodic(crontab(minute="17", hour="19"))  # 03:17 Beijing time
def purge_contacts(app: Flask) -> dict[str, int]:
    """Anonymise contact details PORTAL_CONTACT_RETENTION_DAYS after a question closed."""
    from portal.services.ops.retention import purge_contacts as purge

    return {"contacts_purged": purge(db.session, int(app.config["CONTACT_RETENTION_DAYS"]))}


# ---- queueing after a commit -------------------------------------------------------------------------------


def _queue(job, eta: datetime | None = None) -> None:
    """Put a job on the queue (at `eta`); a queue that cannot be reached is logged: the next sweep catches up."""
    try:
        if eta is not None and eta > utcnow():
            job.schedule(eta=eta.astimezone(UTC).replace(tzinfo=None))
        else:
            job()
    except Exception:  # noqa: BLE001 - the work is in the database; the periodic sweep will do it
        log.exception("could not queue %s; the next periodic sweep will do it", getattr(job, "name", job))


def _before_flush(session: Session, flush_context, instances) -> None:  # noqa: ARG001
    if _state["app"] is None:
        return
    wanted: dict[str, datetime | None] = session.info.setdefault(_WANTED, {})
    for obj in session.new:
        if isinstance(obj, SearchOutbox):
            wanted["index_search"] = None
        elif isinstance(obj, Delivery):
            wanted["deliver"] = None
        elif isinstance(obj, ExportJob):
            wanted["run_exports"] = None
    for obj in [*session.new, *session.dirty]:
        if isinstance(obj, (Update, Release)) and obj.notified_at is None and obj.publish_at is not None:
            due = obj.publish_at if obj.publish_at > utcnow() else None
            wanted["announce" if due is None else f"announce@{due.isoformat()}"] = due


def _after_commit(session: Session) -> None:
    wanted = session.info.pop(_WANTED, None)
    if not wanted:
        return
    jobs = {"index_search": index_search, "deliver": deliver, "run_exports": run_exports, "announce": announce}
    for name, eta in wanted.items():
        _queue(jobs[name.partition("@")[0]], eta)


def _after_rollback(session: Session, transaction=None) -> None:  # noqa: ARG001
    session.info.pop(_WANTED, None)


# ---- running ------------------------------------------------------------------------------------------------


def _watch_step(name: str, step: Callable, every_seconds: int) -> Any:
    """Register one step of the watch (portal/services/watch/periodic.py) as a sweep: every `every_seconds`,
    rounded to whole minutes (Huey's schedule), at least once a minute."""
    minutes = max(1, int(every_seconds) // 60)
    schedule = crontab(minute="*" if minutes == 1 else f"*/{minutes}")
    key = name.replace(".", "_")

    def run(app: Flask) -> dict[str, int]:
        from portal.services.watch.settings import from_config

        result = step(db.session, utcnow(), from_config(app.config))
        if isinstance(result, int):
            return {key: result}
        return {f"{key}_{field}": value for field, value in vars(result or {}).items() if isinstance(value, int)}

    run.__name__ = key
    run.__doc__ = f"The watch's step {name} ({step.__module__}.{step.__name__})."
    return periodic(schedule)(run)


def _register_watch() -> None:
    from portal.services.watch.periodic import PERIODIC as WATCH_STEPS

    for name, step, every in WATCH_STEPS:
        _watch_step(name, step, every)


_register_watch()


def run_burst(app: Flask, rounds: int = 10) -> dict[str, int]:
    """Run every sweep once, then every queued job that is due, until the queue is empty; sums their counts."""
    if _state["app"] is not app:
        init_app(app)
    totals: dict[str, int] = {}

    def add(counts: dict[str, int] | None) -> None:
        for key, value in (counts or {}).items():
            totals[key] = totals.get(key, 0) + int(value)

    for sweep in PERIODIC:
        add(sweep.call_local())
    from portal import pagetree

    if (writer := pagetree.writer_for(app)) is not None:
        add({"pages_written": writer.run_once()})
    for _ in range(rounds):
        ran = 0
        for task in huey.read_schedule(datetime.now(UTC).replace(tzinfo=None)):
            huey.enqueue(task)
        while (task := huey.dequeue()) is not None:
            ran += 1
            add(task.execute())
        if not ran:
            break
    return totals


def catch_up() -> None:
    """Queue every sweep once (a worker that starts sends at once what came due while it was away)."""
    for sweep in PERIODIC:
        _queue(sweep)


def run_consumer(app: Flask, threads: int | None = None) -> None:
    """Run Huey's consumer in the foreground: worker threads and the scheduler of the periodic jobs."""
    if _state["app"] is not app:
        init_app(app)
    consumer = huey.create_consumer(
        workers=threads or int(app.config["WORKER_THREADS"]), worker_type="thread", periodic=True,
        initial_delay=0.05, backoff=1.5, max_delay=float(app.config["WORKER_POLL_MAX_SECONDS"]),
        check_worker_health=True,
    )
    catch_up()
    from portal import pagetree

    # The static tree's writer is a thread of its own, not a queued job: every server's worker writes its own tree,
    # while each queued job runs on one worker only.
    writer = pagetree.writer_for(app)
    if writer is not None:
        writer.start()
    try:
        consumer.run()
    finally:
        if writer is not None:
            writer.stop()
