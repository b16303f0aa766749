"""Database backups and restores: SQLite through its online backup API, PostgreSQL through pg_dump / pg_restore.

`flask backup` puts this copy and the uploaded files into one archive (archive.py).

A live WAL database is never copied file by file. Every backup is checked (SQLite: integrity_check on the copy) and
described by row counts and a content checksum per table, so a restore drill can prove it got the same data back.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Engine, MetaData, select, text
from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """The backup or restore could not be made; the message says why."""


def table_digest(engine: Engine) -> dict[str, tuple[int, str]]:
    """Table -> (row count, SHA-256 of its rows in primary-key order): what a restore must reproduce."""
    meta = MetaData()
    meta.reflect(bind=engine)
    out: dict[str, tuple[int, str]] = {}
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            digest = hashlib.sha256()
            count = 0
            for row in conn.execute(select(table).order_by(*order)):
                digest.update(repr(tuple(row)).encode())
                count += 1
            out[table.name] = (count, digest.hexdigest())
    return out


def _sqlite_path(engine: Engine) -> Path:
    database = make_url(str(engine.url)).database
    if not database or database == ":memory:":
        raise BackupError("no SQLite database file to back up")
    return Path(database)


def _pg_args(engine: Engine) -> tuple[list[str], dict[str, str]]:
    url = make_url(engine.url.render_as_string(hide_password=False))
    args = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = url.password
    return [*args, "-d", url.database or "postgres"], env


def backup(engine: Engine, target: Path) -> Path:
    """Write a consistent backup of the live database to `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if engine.dialect.name == "sqlite":
        source = sqlite3.connect(_sqlite_path(engine))
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            if copy.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError("the copy failed SQLite's integrity check")
        except sqlite3.Error as exc:
            raise BackupError(str(exc)) from exc
        finally:
            copy.close()
            source.close()
        return target
    if engine.dialect.name == "postgresql":
        if shutil.which("pg_dump") is None:
            raise BackupError("pg_dump is not installed (Debian: postgresql-client)")
        args, env = _pg_args(engine)
        result = subprocess.run(["pg_dump", "-Fc", "-f", str(target), *args], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
        return target
    raise BackupError(f"no backup method for {engine.dialect.name}")


def restore(engine: Engine, source: Path) -> None:
    """Replace the live database's content with the backup at `source` (the app should be stopped)."""
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    engine.dispose()
    if engine.dialect.name == "sqlite":
        backup_db = sqlite3.connect(source)
        try:
            try:
                ok = backup_db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            except sqlite3.DatabaseError as exc:
                raise BackupError(f"{source} is not a SQLite database ({exc}); nothing was changed") from exc
            if not ok:
                raise BackupError("the backup failed SQLite's integrity check; nothing was changed")
            live = sqlite3.connect(_sqlite_path(engine))
            try:
                backup_db.backup(live)
            finally:
                live.close()
        finally:
            backup_db.close()
        return
    if engine.dialect.name == "postgresql":
        if shutil.which("pg_restore") is None:
            raise BackupError("pg_restore is not installed (Debian: postgresql-client)")
        listing = subprocess.run(["pg_restore", "--list", str(source)], capture_output=True, text=True)
        if listing.returncode != 0:
            raise BackupError(f"{source} is not a pg_dump archive; nothing was changed")
        with engine.begin() as conn:  # an empty schema first, so the dump recreates everything exactly
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        args, env = _pg_args(engine)
        result = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", *args, str(source)], env=env,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise BackupError(f"pg_restore failed: {result.stderr.strip()}")
        return
    raise BackupError(f"no restore method for {engine.dialect.name}")
