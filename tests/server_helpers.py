"""The app under the real WSGI server for a test: gunicorn with the deploy config on a copy of the SQLite template.

Used by the gunicorn smoke test, the newsboat test and the browser tests (one way to start, wait for and stop it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_sqlite_template(database_template: tuple[str, str], target: Path, why: str) -> Path:
    """Copy the migrated SQLite template to `target`; skip (saying `why`) on the PostgreSQL template."""
    kind, where = database_template
    if kind != "sqlite":
        pytest.skip(why)
    shutil.copy(where, target)
    return target


DEFAULT_BASE_URL = "http://127.0.0.1"


def server_env(db_path: Path, workdir: Path, secret_key: str, **extra: str) -> dict[str, str]:
    """The environment of a served site: its SQLite file and index folder, 2 workers, a cheap password hash."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "PORTAL_SECRET_KEY": secret_key,
        "PORTAL_SEARCH_INDEX_DIR": str(workdir / "idx"),
        "WEB_CONCURRENCY": "2",
        "PORTAL_ARGON2_MEMORY_KIB": "8192",
        # Required outside debug: links are built from it; `gunicorn()` replaces it by the address it serves on.
        "PORTAL_BASE_URL": DEFAULT_BASE_URL,
        # The background worker's queue, beside the site's database (`worker()` below runs the worker).
        "PORTAL_WORKER_URL": f"sqlite:///{workdir / 'queue.db'}",
        **extra,
    }
    env.pop("PORTAL_TEST_DATABASE_URL", None)
    return env


@contextmanager
def gunicorn(env: dict[str, str], log_path: Path, ready_path: str = "/", timeout: float = 30) -> Iterator[str]:
    """Serve wsgi:app under gunicorn (deploy/gunicorn.conf.py) on a free port; yields the base URL once
    `ready_path` answers, and stops the server afterwards. Its log (access log included) goes to `log_path`."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    if env.get("PORTAL_BASE_URL", DEFAULT_BASE_URL) == DEFAULT_BASE_URL:
        env = {**env, "PORTAL_BASE_URL": base}  # the site's links name the address it is served on
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
             "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.time() + timeout
            while True:
                try:
                    urllib.request.urlopen(base + ready_path, timeout=2)
                    break
                except (urllib.error.URLError, ConnectionError):
                    if proc.poll() is not None or time.time() > deadline:
                        pytest.fail("gunicorn did not start: " + log_path.read_text()[-2000:])
                    time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def seed_incident_site(db_path: Path, workdir: Path, updates) -> Flask:
    """A served site's content: a department, the account `spokesperson` (password correct-horse-battery) and the
    incident `qingshi-flood` with `updates` (publishing.NewUpdate) posted in order. Returns an app on the same
    database, for publishing more while the server runs; dispose of its engine when done."""
    from conftest import BASE_CONFIG

    from portal import create_app
    from portal.extensions import db
    from portal.models import Department
    from portal.services.accounts import signin
    from portal.services.bulletins import publishing

    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
                      "SEARCH_INDEX_DIR": str(workdir / "idx")})
    with app.app_context():
        db.session.add(Department(name="测试县人民政府办公室", slug="office"))
        db.session.commit()
        actor = signin.create_user(db.session, "spokesperson", "correct-horse-battery", "spokesperson",
                                     "测试县人民政府办公室")
        incident = publishing.create_incident(db.session, actor, publishing.IncidentInput(
            title="青石镇山洪灾害", severity="3", started_at="2026-11-24 03:40", slug="qingshi-flood"))
        for update in updates:
            publishing.post_update(db.session, actor, incident, update)
        db.session.remove()
    return app


@contextmanager
def worker(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """Run `flask worker` (the background worker, as `make run` does beside gunicorn) until the block ends."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "portal", "worker"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
