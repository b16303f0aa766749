"""A real feed reader from Debian (newsboat) reads the feeds served by the running app under gunicorn."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from conftest import need_service
from server_helpers import copy_sqlite_template, gunicorn, seed_incident_site, server_env

from portal.extensions import db
from portal.services.bulletins import publishing

TITLES = ["青石镇山洪通报（第1次）", "青石镇山洪通报（第2次）", "新闻发布会预告：抢险救灾进展"]


def _seed(db_path: Path, tmp_path: Path) -> str:
    app = seed_incident_site(db_path, tmp_path, [
        publishing.NewUpdate(body="转移群众1260人，暂无人员伤亡。", title=TITLES[0]),
        publishing.NewUpdate(body="青石河水位回落。", title=TITLES[1]),
        publishing.NewUpdate(body="下午三时召开新闻发布会。", title=TITLES[2], kind="press", press_at="2026-11-24 15:00",
                            press_place="县政府新闻发布厅"),
    ])
    with app.app_context():
        db.engine.dispose()
    return "qingshi-flood"


@pytest.fixture
def served(tmp_path, database_template):
    db_path = copy_sqlite_template(database_template, tmp_path / "portal.db",
                                   "the newsboat test serves the SQLite template under gunicorn")
    if shutil.which("newsboat") is None:
        need_service("newsboat is not installed (apt-get install newsboat)")
    slug = _seed(db_path, tmp_path)
    env = server_env(db_path, tmp_path, "newsboat-test-secret-key-0123456789")
    with gunicorn(env, tmp_path / "gunicorn.log", ready_path="/feeds/bulletins.rss") as base:
        yield base, slug, tmp_path / "gunicorn.log"


def _reload(workdir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["newsboat", "-q", "-u", "urls", "-c", "cache.db", "-C", "config", "-x", "reload"],
        cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        env={**os.environ, "HOME": str(workdir)},
    )


def _reader(tmp_path: Path, name: str, feed: str) -> Path:
    """A fresh newsboat home: url file with one feed, empty config, no cache yet."""
    workdir = tmp_path / name
    workdir.mkdir()
    (workdir / "urls").write_text(feed + "\n", encoding="utf-8")
    (workdir / "config").write_text("", encoding="utf-8")
    return workdir


def test_newsboat_reads_every_bulletin_feed(served, tmp_path):
    base, slug, logfile = served
    feeds = [f"{base}/feeds/bulletins.rss", f"{base}/feeds/bulletins.atom", f"{base}/incidents/{slug}/feed.rss",
             f"{base}/incidents/{slug}/feed.atom"]
    # One reader (and cache) per feed: newsboat keys items by guid, and an entry keeps its id in every feed.
    readers = [_reader(tmp_path, f"reader{n}", feed) for n, feed in enumerate(feeds)]
    for feed, workdir in zip(feeds, readers, strict=True):
        result = _reload(workdir)
        assert result.returncode == 0, result.stderr
        with sqlite3.connect(workdir / "cache.db") as conn:
            items = conn.execute("select title, url, guid, pubDate, feedurl from rss_item").fetchall()
            feed_title = conn.execute("select title from rss_feed").fetchone()[0]
        assert "通报" in feed_title, feed_title
        assert len(items) == 3, (feed, items)
        titles = [t for t, *_ in items]
        for expected in TITLES:
            assert any(expected in t for t in titles), (feed, titles)  # Chinese intact
        assert all(url.startswith(f"{base}/incidents/{slug}#update-") for _, url, *_ in items)
        assert len({guid for _, _, guid, *_ in items}) == 3 and all(g.startswith("tag:") for _, _, g, *_ in items)
        assert all(pub > 1_700_000_000 for *_, pub, _ in items)
        assert {f for *_, f in items} == {feed}
    # newsboat 2.21 saves ETag/Last-Modified only from its second fetch on (the feed row is created after the
    # first download), so its third reload is the first conditional one: every feed 304, nothing duplicated.
    for workdir in readers:
        assert _reload(workdir).returncode == 0
    time.sleep(0.2)
    log_before = logfile.read_text()
    for workdir in readers:
        assert _reload(workdir).returncode == 0
    time.sleep(0.5)
    second = logfile.read_text()[len(log_before):]
    assert second.count('" 304 ') >= len(feeds), second
    for workdir in readers:
        with sqlite3.connect(workdir / "cache.db") as conn:
            assert conn.execute("select count(*) from rss_item").fetchone()[0] == 3
