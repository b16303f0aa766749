"""Fixtures: app, client, runner and an AuthActions helper (flaskr's pattern), on SQLite or PostgreSQL.

The schema comes from the Alembic migrations, applied once per test session: SQLite tests copy a migrated
template file; with PORTAL_TEST_DATABASE_URL set to a PostgreSQL URL, a throwaway database is created on that
server, migrated once, and emptied between tests.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from totp_helpers import authenticator_code

from portal import create_app
from portal.extensions import db
from portal.models import Department, StaffUser
from portal.services.accounts import signin, totp

PASSWORD = "correct-horse-battery"
# The authenticator secret the `staff` fixture enrols for the roles that need a second factor.
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
IN_CI = os.environ.get("CI", "").lower() == "true"

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-0123456789abcdef",
    "RATELIMIT_ENABLED": False,
    "SEARCH_INDEXER_THREAD": False,
    # Canonical links: every absolute URL is built from this, never from the Host header.
    "BASE_URL": "http://localhost",
    # The worker's queue lives in the test process; `work(app)` (= `flask worker --burst`) runs what is due.
    "WORKER_URL": "memory://",
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_KIB": 8192,
    "ARGON2_PARALLELISM": 1,
}


def need_service(reason: str) -> None:
    """Skip when a service is absent on a user's machine; fail in CI, where it must be there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this service must be available)")
    pytest.skip(reason)


def _migrate(url: str, workdir: Path) -> None:
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": url, "SEARCH_INDEX_DIR": str(workdir / "idx")})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """A migrated database: a SQLite file to copy, or a PostgreSQL URL to empty between tests."""
    workdir = tmp_path_factory.mktemp("template")
    pg_admin = os.environ.get("PORTAL_TEST_DATABASE_URL", "")
    if pg_admin.startswith("postgres"):
        from portal.config import normalise_database_url

        admin_url = sa.make_url(normalise_database_url(pg_admin))
        name = f"portal_test_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        _migrate(url, workdir)
        yield ("postgresql", url)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        return
    path = workdir / "template.db"
    _migrate(f"sqlite:///{path}", workdir)
    yield ("sqlite", str(path))


@pytest.fixture
def make_app(database_template, tmp_path):
    """Build an app on a fresh copy of the migrated database; extra config overrides the test defaults."""
    kind, where = database_template
    created = []

    def factory(**overrides):
        if kind == "sqlite":
            target = tmp_path / "portal.db"
            if not target.exists():
                shutil.copy(where, target)
            url = f"sqlite:///{target}"
        else:
            url = where
        app = create_app(
            {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": url, "SEARCH_INDEX_DIR": str(tmp_path / "idx"),
             "UPLOAD_DIR": str(tmp_path / "uploads"), "EXPORT_DIR": str(tmp_path / "exports"), **overrides}
        )
        if kind == "postgresql" and not created:
            with app.app_context():
                tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
                db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
                db.session.commit()
        created.append(app)
        return app

    yield factory
    for app in created:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@dataclass
class Staff:
    """The seeded departments and one account per role."""

    roads: int
    schools: int
    office: int


@pytest.fixture
def staff(app) -> Staff:
    """Departments 交通 and 教育 plus the office, and users admin, office, responder (交通), responder2 (教育),
    spokesperson; every password is PASSWORD."""
    with app.app_context():
        office = Department(name="测试县人民政府办公室", slug="office")
        roads = Department(name="测试县交通运输局", slug="jtj")
        schools = Department(name="测试县教育局", slug="jyj")
        db.session.add_all([office, roads, schools])
        db.session.commit()
        for username, role, dept in [
            ("admin", "admin", None),
            ("office", "office", office.name),
            ("responder", "responder", roads.name),
            ("responder2", "responder", schools.name),
            ("spokesperson", "spokesperson", office.name),
        ]:
            user = signin.create_user(db.session, username, PASSWORD, role, dept)
            if role in app.config["TOTP_ROLES"]:
                user.totp_secret = totp.encrypt_secret(app.config["SECRET_KEY"], TOTP_SECRET)
        db.session.commit()
        return Staff(roads=roads.id, schools=schools.id, office=office.id)


def csrf_token(client, url: str) -> str:
    """GET a form page and return its CSRF token (as a browser would have it)."""
    response = client.get(url)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no csrf token on {url} (status {response.status_code})"
    return match.group(1)


class AuthActions:
    """Sign in and out through the real forms."""

    def __init__(self, client):
        self._client = client

    def login(self, username: str = "office", password: str = PASSWORD, totp_secret: str | None = TOTP_SECRET):
        """Password, then (when the page asks for it) the authenticator's current code."""
        token = csrf_token(self._client, "/login")
        response = self._client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )
        if response.status_code == 303 and response.headers["Location"].endswith("/login/totp") and totp_secret:
            token = csrf_token(self._client, "/login/totp")
            with self._client.application.app_context():
                used = db.session.scalar(select_last_step(username))
                db.session.remove()
            code = authenticator_code(totp_secret, -1 if used is None else used)
            response = self._client.post("/login/totp", data={"code": code, "csrf_token": token})
        return response

    def logout(self):
        token = csrf_token(self._client, "/staff/")
        return self._client.post("/logout", data={"csrf_token": token})


def select_last_step(username: str):
    """The last time step whose code the server accepted for this user."""
    return sa.select(StaffUser.totp_last_step).where(StaffUser.username == username)


@pytest.fixture
def auth(client):
    return AuthActions(client)


def work(app) -> dict[str, int]:
    """Run the background worker's due jobs once, as `flask worker --burst` does; returns its counts."""
    from portal import jobs

    return jobs.run_burst(app)


def ask(client, **fields):
    """Post the ask form with a valid token; returns the response (a 303 to /ask/done on success)."""
    data = {
        "title": "解放路路灯不亮何时修",
        "body": "解放路中段的路灯已经连续一周晚上不亮，行人很不安全，请尽快维修。",
        "category": "求助",
        "department": "",
        "contact": "",
        **fields,
    }
    data["csrf_token"] = csrf_token(client, "/ask")
    return client.post("/ask", data=data)


def ask_and_get_code(client, **fields) -> tuple[str, str]:
    """Ask a question and read the number and tracking code from the page shown once."""
    response = ask(client, **fields)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    page = client.get("/ask/done").get_data(as_text=True)
    number = re.search(r'class="number">(\d+)<', page).group(1)
    code = re.search(r'class="code">([A-Z0-9-]+)<', page).group(1)
    return number, code
