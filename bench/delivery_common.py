"""Shared pieces of the delivery benches: a counting SMTP relay (aiosmtpd) and a migrated site with subscribers."""

from __future__ import annotations

import secrets
import socket
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

from aiosmtpd.controller import Controller

SECRET = "bench-secret-key-0123456789abcdef"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CountingRelay:
    """An aiosmtpd handler that counts messages per recipient (and connections); keeps no bodies."""

    def __init__(self) -> None:
        self.copies: Counter = Counter()
        self.connections = 0
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.copies.update(envelope.rcpt_tos)
        return "250 OK"

    @property
    def total(self) -> int:
        return sum(self.copies.values())


def start_relay() -> tuple[CountingRelay, Controller, int]:
    """A counting relay on a free port in this process; the caller stops the controller."""
    relay = CountingRelay()
    port = free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    return relay, controller, port


def _relay_process(port: int, conn) -> None:
    relay = CountingRelay()
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    conn.send("ready")
    while True:
        ask = conn.recv()
        if ask == "stop":
            controller.stop()
            conn.send("stopped")
            return
        with relay.lock:
            conn.send((dict(relay.copies), relay.connections))


class RelayProcess:
    """The counting relay in a process of its own, as a real relay is (no GIL shared with the sender)."""

    def __init__(self) -> None:
        import multiprocessing

        self.port = free_port()
        self._conn, child = multiprocessing.Pipe()
        self._proc = multiprocessing.get_context("spawn").Process(target=_relay_process, args=(self.port, child),
                                                                  daemon=True)
        self._proc.start()
        assert self._conn.recv() == "ready"

    def counts(self) -> tuple[Counter, int]:
        """Copies per recipient, and connections so far."""
        self._conn.send("report")
        copies, connections = self._conn.recv()
        return Counter(copies), connections

    def stop(self) -> None:
        self._conn.send("stop")
        self._conn.recv()
        self._proc.join(10)


def site_env(work: Path, **extra: str) -> dict[str, str]:
    """The environment of the bench's site (its SQLite file, queue file, index folder)."""
    return {
        "DATABASE_URL": f"sqlite:///{work / 'portal.db'}", "PORTAL_SECRET_KEY": SECRET,
        "PORTAL_BASE_URL": "http://127.0.0.1", "PORTAL_SEARCH_INDEX_DIR": str(work / "idx"),
        "PORTAL_EXPORT_DIR": str(work / "exports"), "PORTAL_WORKER_URL": f"sqlite:///{work / 'queue.db'}", **extra,
    }


def make_site(work: Path, subscribers: int, **config):
    """A migrated site with `subscribers` confirmed subscriptions, a spokesperson and an incident."""
    from flask_migrate import upgrade

    from portal import create_app
    from portal.extensions import db
    from portal.models import Subscription
    from portal.services.accounts import signin
    from portal.services.bulletins import publishing
    from portal.timeutil import utcnow

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{work / 'portal.db'}", "SECRET_KEY": SECRET,
        "BASE_URL": "http://127.0.0.1", "SEARCH_INDEX_DIR": str(work / "idx"), "EXPORT_DIR": str(work / "exports"),
        "WORKER_URL": f"sqlite:///{work / 'queue.db'}", "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 8192,
        "ARGON2_PARALLELISM": 1, **config,
    })
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        now = utcnow()
        db.session.add_all([Subscription(email=f"reader{n:05d}@news.example", kind="bulletins",
                                         token=secrets.token_urlsafe(32), created_at=now, confirmed_at=now)
                            for n in range(subscribers)])
        db.session.commit()
        actor = signin.create_user(db.session, "spokesperson", "bench-password-123", "spokesperson", None)
        incident = publishing.create_incident(db.session, actor, publishing.IncidentInput(
            title="青石镇山洪灾害", slug="qingshi-flood", severity="3", status="ongoing",
            started_at=(now - timedelta(hours=3)).strftime("%Y-%m-%d %H:%M"), summary="强降雨。"))
        ids = (actor.id, incident.id)
    return app, ids


def publish(app, ids: tuple[int, int], body: str) -> float:
    """Post one update through the service (as the console does); returns the seconds it took."""
    import time

    from portal.extensions import db
    from portal.models import Incident, StaffUser
    from portal.services.bulletins import publishing

    with app.app_context():
        actor, incident = db.session.get(StaffUser, ids[0]), db.session.get(Incident, ids[1])
        started = time.perf_counter()
        publishing.post_update(db.session, actor, incident, publishing.NewUpdate(body=body))
        took = time.perf_counter() - started
        db.session.remove()
    return took
