"""The static tree: each server's worker writes the public pages as files, and nginx serves them as such.

In a crisis the pages that take the load are few and anonymous. With PORTAL_PAGE_TREE_DIR set, `flask worker`
renders them through the app itself (the same view, templates and headers a reader gets; no render cache in
between) and writes each one into the tree, plain and gzip-compressed (the render cache's own deterministic
gzip), each file written, fsynced and renamed into place, so nginx never sees half a file. deploy/nginx.conf
serves an anonymous GET without a query string from the tree (`try_files`, `gzip_static`) and everything else,
staff above all, from the app through its proxy cache.

Layout: the page at URL path P lives in the folder <tree>/P, as `.page.html` (Cache-Control
PORTAL_PAGE_CACHE_CONTROL; in crisis mode only while PORTAL_PAGE_CACHE_CONTROL_CRISIS is the same), `.feed.atom` or
`.feed.rss`, each with a `.gz` beside it when the page is 512 bytes or more. nginx knows the Cache-Control of each
name; a page whose headers a file cannot carry (a WebSub `Link`, a cookie, any other header) is left to the app.
`<tree>/.tick/0` to `.tick/9` are links to the tree itself: nginx looks a page up through the one for the current
tenth of a second, so it may keep open files' descriptors (no system call per request) and still sees a renamed
file within a tenth of a second (deploy/nginx.conf explains).

When pages are written (all from PageChange rows, portal/pagechanges.py, read every PORTAL_PAGE_TREE_POLL_SECONDS):
- a publication's pages as soon as it commits, the changed page first; before the worker pings a WebSub hub;
- a scheduled update's pages at its publication time (the rows are due then);
- a page no server had yet, once a reader asked the app for it;
- "*" (the crisis switches, a department renamed): the busiest pages at once, every other file deleted (in crisis
  mode with its own Cache-Control, every file: nginx knows one Cache-Control for pages);
- every PORTAL_PAGE_TREE_SWEEP_SECONDS: the busiest pages and the least recently checked files again (pages that
  change by time; a file whose page is gone is deleted).

Several servers: each server's worker keeps its own tree on local disk and reads the shared database's rows, so
every server writes every change (there is no shared storage to fail or to lock). See the README.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from flask import Flask
from sqlalchemy import delete, select
from werkzeug.http import parse_date
from werkzeug.test import EnvironBuilder

from portal import cache, pagechanges
from portal.extensions import db
from portal.models import Incident, PageChange
from portal.models.bulletin import ONGOING
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

# Endpoints whose anonymous page may be a file (the render cache's, less search, statistics and the calendar:
# those change by time or take queries, and stay with the app and nginx's proxy cache).
ENDPOINTS = frozenset(set(cache.POLICIES) - {"search.search_page", "stats.stats_page", "news.conferences_ics"})
# The headers a file carries as the app sends them: nginx adds the same (deploy/nginx.conf; tests/test_nginx.py
# compares them; HSTS comes from nginx's TLS server block). A response with any other header is not written.
CARRIED = frozenset({"content-type", "content-length", "cache-control", "vary", "etag", "last-modified",
                     "content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy",
                     "strict-transport-security"})
NAMES = (".page.html", ".feed.atom", ".feed.rss")
TYPES = {".page.html": "text/html", ".feed.atom": "application/atom+xml", ".feed.rss": "application/rss+xml"}
TICKS = ".tick"
LOOKBACK = timedelta(seconds=30)  # rows committed this late after they were due are still read
KEEP_ROWS = timedelta(days=1)


@dataclass
class Page:
    """A rendered page: its file name in the tree, its bytes, the gzip form (None below 512 bytes), the file time."""

    name: str
    body: bytes
    gz: bytes | None
    mtime: float | None


class PageTree:
    """The files of one tree; every write is atomic (write, fsync, rename) and leaves files readable by nginx."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def ensure_ticks(self) -> None:
        """The ten names nginx looks the tree up through (`.tick/0` to `.tick/9`, each a link to the tree itself, one
        per tenth of a second: deploy/nginx.conf), so that a rewritten file shows within a tenth of a second although
        nginx keeps open files' descriptors."""
        ticks = self.root / TICKS
        ticks.mkdir(parents=True, exist_ok=True, mode=0o755)
        for tenth in range(10):
            link = ticks / str(tenth)
            if os.path.islink(link) and os.readlink(link) == "..":
                continue
            tmp = ticks / f".new-{tenth}-{os.getpid()}"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink("..", tmp)
            os.replace(tmp, link)

    def folder(self, path: str) -> Path | None:
        """The folder of URL path `path` (decoded, as nginx's $uri); None for a path no file may stand for."""
        if not path.startswith("/") or "\x00" in path or "\\" in path:
            return None
        parts = [p for p in path.split("/")[1:]]
        if parts == [""]:
            return self.root
        if any(not p or p.startswith(".") for p in parts):
            return None
        return self.root.joinpath(*parts)

    def files(self):
        """(URL path, file name) of every page file in the tree."""
        if not self.root.is_dir():
            return
        for folder, _dirs, names in os.walk(self.root):
            for name in names:
                if name in NAMES:
                    rel = Path(folder).relative_to(self.root).as_posix()
                    yield ("/" if rel == "." else "/" + rel), name

    def holds(self, path: str) -> bool:
        """Whether the tree has a file for `path` (under any name)."""
        folder = self.folder(path)
        return folder is not None and any((folder / name).exists() for name in NAMES)

    def read(self, path: str, name: str) -> bytes | None:
        folder = self.folder(path)
        try:
            return (folder / name).read_bytes() if folder is not None else None
        except OSError:
            return None

    def put(self, path: str, page: Page) -> bool:
        """Write `page` (and its gzip form) for `path` unless the files already hold it; drop the page's files under
        other names. True when something was written."""
        folder = self.folder(path)
        if folder is None:
            return False
        wrote = False
        if self.read(path, page.name) != page.body or (page.gz is not None and
                                                        self.read(path, page.name + ".gz") != page.gz):
            folder.mkdir(parents=True, exist_ok=True, mode=0o755)
            # The compressed form first: from the plain file's rename on, both are the new page.
            if page.gz is not None:
                _atomic_write(folder / (page.name + ".gz"), page.gz, page.mtime)
            _atomic_write(folder / page.name, page.body, page.mtime)
            _fsync_dir(folder)
            wrote = True
        others = [n for n in NAMES if n != page.name]
        self._unlink(folder, [*others, *(n + ".gz" for n in others), *([page.name + ".gz"] if page.gz is None else [])])
        return wrote

    def drop(self, path: str) -> None:
        """Delete the page's files (it is gone, or not public any more); nginx then asks the app."""
        folder = self.folder(path)
        if folder is not None:
            self._unlink(folder, [*NAMES, *(n + ".gz" for n in NAMES)])

    @staticmethod
    def _unlink(folder: Path, names) -> None:
        """Delete these files of the folder, those that exist."""
        for name in names:
            (folder / name).unlink(missing_ok=True)


def _atomic_write(target: Path, data: bytes, mtime: float | None) -> None:
    tmp = target.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}-{target.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o644)
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    os.replace(tmp, target)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_name(path: str, content_type: str, cache_control: str, config) -> str | None:
    """The file name nginx looks for at `path` for this response, or None when nginx could not serve it as sent."""
    feed_cc = f"public, max-age={int(config['FEED_MAX_AGE'])}, s-maxage={int(config['FEED_SHARED_MAX_AGE'])}"
    if path.endswith(".atom"):
        wanted = (".feed.atom", feed_cc)
    elif path.endswith(".rss"):
        wanted = (".feed.rss", feed_cc)
    else:
        wanted = (".page.html", config["PAGE_CACHE_CONTROL"])
    name, expected_cc = wanted
    return name if content_type == TYPES[name] and cache_control == expected_cc else None


def render(app: Flask, path: str) -> Page | None:
    """The page at `path` as an anonymous reader gets it from the app (no render cache), or None when it must not be
    a file: not 200, not public, a header a file cannot carry, a type nginx would label otherwise."""
    inner = app.extensions["render_cache"].wsgi_app
    base = str(app.config.get("BASE_URL") or "http://localhost").rstrip("/")
    environ = EnvironBuilder(path=quote(path), base_url=base + "/", method="GET").get_environ()
    captured: dict = {}
    chunks: list[bytes] = []

    def start_response(status, headers, exc_info=None):  # noqa: ARG001
        captured["status"], captured["headers"] = status, headers
        return chunks.append

    result = inner(environ, start_response)
    try:
        body = b"".join([*chunks, *result])
    finally:
        if hasattr(result, "close"):
            result.close()
    headers = captured.get("headers", [])
    if not str(captured.get("status", "")).startswith("200") or any(k.lower() not in CARRIED for k, _ in headers):
        return None
    values = {k.lower(): v for k, v in headers}
    content_type = values.get("content-type", "").split(";")[0].strip().lower()
    name = _file_name(path, content_type, values.get("cache-control", ""), app.config)
    if name is None:
        return None
    entry = cache.Entry.build(200, headers, body)
    modified = values.get("last-modified")
    when = parse_date(modified) if modified else None
    return Page(name, body, entry.gz, when.timestamp() if when else None)


class Writer:
    """Writes a server's tree from the PageChange rows; one background thread in `flask worker`."""

    def __init__(self, app: Flask, tree: PageTree) -> None:
        self.app = app
        self.tree = tree
        self.poll = float(app.config["PAGE_TREE_POLL_SECONDS"])
        self.sweep_every = float(app.config["PAGE_TREE_SWEEP_SECONDS"])
        self.sweep_pages = int(app.config["PAGE_TREE_SWEEP_PAGES"])
        self.written = 0
        self.dropped = 0
        self._lock = threading.RLock()
        self._since = utcnow() - KEEP_ROWS  # at start: every row still kept (the worker may have been away)
        self._done: dict[int, object] = {}
        self._next_sweep = 0.0
        self._checked: dict[str, float] = {}
        self._stop = threading.Event()
        self._ticks = False
        self._last_look = 0.0
        self._urgent: deque[str] = deque()

    # -- one page --------------------------------------------------------------------------------------------
    def refresh(self, path: str) -> None:
        """Render `path` and write its file, or delete the file if the page must not be one (any more)."""
        try:
            page = render(self.app, path)
        except Exception:  # noqa: BLE001 - keep the last good file; the next sweep tries again
            log.exception("page tree: could not render %s", path)
            return
        finally:
            db.session.remove()
        if page is None:
            self.tree.drop(path)
            self.dropped += 1
        elif self.tree.put(path, page):
            self.written += 1
            log.info("page tree: wrote %s", path)
        self._checked[path] = time.monotonic()

    def busiest(self) -> list[str]:
        """The pages a crisis sends everyone to: home, the lists, the feeds, every ongoing incident."""
        routes: list = [("public.home", ()), ("incidents.index", ()), ("questions.board_page", ()),
                        ("feeds.bulletins_atom", ()), ("feeds.bulletins_rss", ()), ("feeds.answers_atom", ()),
                        ("news.feed_rss", ()), ("news.feed_atom", ())]
        with self.app.app_context():
            try:
                slugs = db.session.scalars(select(Incident.slug).where(Incident.status == ONGOING)
                                           .order_by(Incident.pinned_at.desc(), Incident.id.desc()).limit(50))
                # The pinned incident first, right after the home page.
                routes[1:1] = [(endpoint, (("slug", slug),)) for slug in slugs
                               for endpoint in ("incidents.detail", "feeds.incident_atom", "feeds.incident_rss")]
            finally:
                db.session.remove()
        return pagechanges.paths(self.app, routes)

    # -- passes ----------------------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Write the pages of every row now due (and sweep when it is time); returns the pages refreshed."""
        count = self.write_due()
        if time.monotonic() >= self._next_sweep:
            count += self.sweep()
        return count

    def write_due(self) -> int:
        """Write the pages of every row now due, and of rows that come due meanwhile; returns the pages refreshed.
        On return, every row due at the call has its page written, whichever thread took it from the database."""
        with self.app.app_context():
            return self._write([], look=True)

    def sweep(self) -> int:
        """The busiest pages, then the files checked longest ago (at most PAGE_TREE_SWEEP_PAGES); returns the pages
        refreshed. A sweep of hundreds of pages takes seconds, more on a loaded machine: publications made meanwhile
        go first, and a WebSub ping's catch_up does not wait for its end (`_write`)."""
        with self.app.app_context():
            with self._lock:
                self._next_sweep = time.monotonic() + self.sweep_every
                busiest = self.busiest()
                others = sorted({p for p, _ in self.tree.files()} - set(busiest),
                                key=lambda p: self._checked.get(p, 0.0))
            return self._write([*busiest, *others[: self.sweep_pages]], look=False)

    def _write(self, todo: list[str], look: bool) -> int:
        """Refresh the pages of the rows due, then those of `todo`, one at a time under the lock (`look`: read the
        rows first). Between two pages, once PAGE_TREE_POLL_SECONDS have passed since the last read, rows due since
        then go to the front: a publication never waits for a sweep or a long batch to end. The rows' pages wait in
        `_urgent`, shared by the threads, so a thread that finds it empty knows every row it read is written.
        pagechanges.EVERY_PAGE (crisis mode on or off) stands for the busiest pages, and no file of any other."""
        queue = deque(todo)
        count = 0
        while True:
            with self._lock:
                if not self._ticks:
                    self.tree.ensure_ticks()
                    self._ticks = True
                if look or time.monotonic() - self._last_look >= self.poll:
                    self._read_rows()
                    look = False
                if self._urgent:
                    path = self._urgent.popleft()
                elif queue:
                    path = queue.popleft()
                else:
                    return count
                if path == pagechanges.EVERY_PAGE:
                    busiest = self.busiest()
                    keep = set(busiest)
                    for other, _name in list(self.tree.files()):
                        if other not in keep:
                            self.tree.drop(other)
                    self._urgent = deque([*busiest, *(p for p in self._urgent if p not in keep)])
                    queue = deque(p for p in queue if p not in keep)
                    continue
                self.refresh(path)
                count += 1

    def _read_rows(self) -> None:
        """Queue in `_urgent` the pages of the rows due now that this writer has not taken yet, in their order."""
        self._last_look = time.monotonic()
        self.app.extensions["render_cache"].reader.invalidate()  # render with the version as committed now
        now = utcnow()
        try:
            rows = db.session.execute(
                select(PageChange.id, PageChange.path, PageChange.due_at, PageChange.create_file)
                .where(PageChange.due_at <= now, PageChange.due_at > self._since - LOOKBACK)
                .order_by(PageChange.due_at, PageChange.id)
            ).all()
        finally:
            db.session.remove()
        for row_id, path, due, create in rows:
            if row_id not in self._done:
                self._done[row_id] = due
                # A page the tree does not hold and need not create: nothing there can be stale.
                if path not in self._urgent and (create or self.tree.holds(path)):
                    self._urgent.append(path)
        cut = now - LOOKBACK - LOOKBACK
        self._done = {k: v for k, v in self._done.items() if v > cut}
        self._since = now

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the database may be away for a moment: try again
                log.exception("page tree: pass failed")
                self._stop.wait(1.0)
            self._stop.wait(self.poll)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="page-tree", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()


def init_app(app: Flask) -> None:
    """Record page changes (always: a tree on another host may read them); with PORTAL_PAGE_TREE_DIR set, pages read
    through the app too, and this process may write the tree."""
    pagechanges.install_listeners()
    root = str(app.config.get("PAGE_TREE_DIR") or "")
    if not root:
        return
    app.extensions["page_tree"] = PageTree(root)
    middleware = app.extensions["render_cache"]
    middleware.fill = pagechanges.FillRecorder(middleware.reader.engine_getter, ENDPOINTS)


def writer_for(app: Flask) -> Writer | None:
    """This process's writer (created on first use), or None without a tree."""
    tree = app.extensions.get("page_tree")
    if tree is None:
        return None
    if "page_tree_writer" not in app.extensions:
        app.extensions["page_tree_writer"] = Writer(app, tree)
    return app.extensions["page_tree_writer"]


def prune(session) -> int:
    """Delete the rows older than a day (every writer has read them, or re-checks its files in its sweeps)."""
    done = session.execute(delete(PageChange).where(PageChange.due_at < utcnow() - KEEP_ROWS))
    session.commit()
    return done.rowcount or 0


def catch_up(app: Flask) -> int:
    """Write every page now due in this process (before a WebSub ping: the hub's readers fetch the new feed)."""
    writer = writer_for(app)
    return writer.write_due() if writer is not None else 0

