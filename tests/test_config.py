"""Configuration: secrets, database URLs, the instance folder."""

from __future__ import annotations

import pytest

from portal import config as cfg
from portal import create_app


def test_refuses_known_default_secret_outside_debug(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET_KEY", "dev")
    with pytest.raises(cfg.ConfigError, match="PORTAL_SECRET_KEY"):
        cfg.ensure_secret_key({"SECRET_KEY": "dev"}, str(tmp_path), relaxed=False)
    with pytest.raises(cfg.ConfigError):
        cfg.ensure_secret_key({"SECRET_KEY": "short"}, str(tmp_path), relaxed=False)
    relaxed = {"SECRET_KEY": "dev"}
    cfg.ensure_secret_key(relaxed, str(tmp_path), relaxed=True)
    assert relaxed["SECRET_KEY"] == "dev"


def test_generates_a_random_key_once_into_the_instance_folder(tmp_path):
    first: dict = {"SECRET_KEY": None}
    cfg.ensure_secret_key(first, str(tmp_path), relaxed=False)
    second: dict = {"SECRET_KEY": None}
    cfg.ensure_secret_key(second, str(tmp_path), relaxed=False)
    assert first["SECRET_KEY"] == second["SECRET_KEY"] and len(first["SECRET_KEY"]) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_app_refuses_default_key(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTAL_SECRET_KEY", "changeme")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(cfg.ConfigError):
        create_app()


def test_environment_settings(monkeypatch):
    env = {
        "DATABASE_URL": "postgres://u:p@db:5432/portal",
        "PORTAL_SECRET_KEY": "k" * 32,
        "PORTAL_SEARCH_INDEX_DIR": "/srv/idx",
        "PORTAL_ASK_QUOTA_PER_HOUR": "7",
        "PORTAL_SESSION_COOKIE_SECURE": "true",
    }
    out = cfg.from_environment(env)
    assert out["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db:5432/portal"
    assert out["SEARCH_INDEX_DIR"] == "/srv/idx"
    assert out["ASK_QUOTA_PER_HOUR"] == 7 and out["SESSION_COOKIE_SECURE"] is True
    with pytest.raises(cfg.ConfigError, match="PORTAL_ASK_QUOTA_PER_HOUR"):
        cfg.from_environment({"PORTAL_ASK_QUOTA_PER_HOUR": "many"})


def test_sqlite_runs_in_wal_with_foreign_keys(app):
    from sqlalchemy import text

    from portal.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite pragmas apply to SQLite only")
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
