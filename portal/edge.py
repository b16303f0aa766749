"""Edge refresh: after a publication, nginx fetches fresh copies of the pages it keeps, at once.

nginx keeps anonymous pages and feeds for `s-maxage` (1 s) and then revalidates them in the background, so on
its own a new bulletin shows through it within one to two seconds. With PORTAL_EDGE_REFRESH_URLS set to the
address of each nginx in front, every commit that changes public content sends each of them a GET, for every
page that the change touched, carrying `X-Portal-Refresh: 1`. deploy/nginx.conf lets that header past its
cache only from the app servers' addresses (a `geo` list): nginx asks the app, stores the new page and serves
it to everyone from then on. The app reads the content version from the database for such a request (not
its copy of up to CACHE_VERSION_TTL seconds), so whichever worker or server answers renders the new page.

Refreshing runs on a background thread per worker and never delays or fails a publication. Each batch is
sent twice: at once, and again once every worker's copy of the version has expired, so that a background
revalidation that a worker answered with its old copy in between cannot leave a stale page behind for longer.
If nginx cannot be reached, the page still refreshes on its own within `s-maxage`; the failure is logged.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Flask, current_app, has_app_context, has_request_context, request
from sqlalchemy.orm import Session

from portal.config import ConfigError
from portal.models import (
    Attachment,
    Conference,
    DirectoryEntry,
    Incident,
    Question,
    Release,
    ReleaseEdition,
    Reply,
    SiteState,
    Update,
    UpdateEdition,
)
from portal.services.ops import site

log = logging.getLogger(__name__)

HEADER = "X-Portal-Refresh"
SCHEME_HEADER = "X-Portal-Scheme"
_ROUTES = "portal_edge_routes"

Route = tuple[str, tuple[tuple[str, str], ...]]

_BULLETINS = [("incidents.index", ()), ("feeds.bulletins_rss", ()), ("feeds.bulletins_atom", ()),
              ("public.home", ())]
_ANSWERS = [("questions.board_page", ()), ("feeds.answers_atom", ()), ("public.home", ())]
# nginx keeps the release feeds; the /news pages are not shared (they carry no public Cache-Control).
_NEWS = [("news.feed_rss", ()), ("news.feed_atom", ())]


def _incident_routes(incident: Incident | None) -> list[Route]:
    if incident is None or not incident.slug:
        return list(_BULLETINS)
    slug = (("slug", incident.slug),)
    # The incident's own page first: it is the one readers are refreshing.
    return [("incidents.detail", slug), ("feeds.incident_rss", slug), ("feeds.incident_atom", slug), *_BULLETINS]


def _question_routes(question: Question | None) -> list[Route]:
    if question is None or not question.number:
        return list(_ANSWERS)
    return [("questions.detail", (("number", question.number),)), *_ANSWERS]


def _release_routes(release: Release | None) -> list[Route]:
    if release is None:
        return list(_NEWS)
    typed = [(f"news.type_feed_{kind}", (("type_", release.type),)) for kind in ("rss", "atom")] if release.type else []
    # A release about an incident is listed on the incident's page.
    incident = [("incidents.detail", (("slug", release.incident.slug),))] if release.incident is not None else []
    return [*incident, *_NEWS, *typed]


def routes_for(obj) -> list[Route]:
    """The cached pages (endpoint and URL values) that a change to `obj` alters, the most read first."""
    if isinstance(obj, Update):
        return _incident_routes(obj.incident)
    if isinstance(obj, UpdateEdition):
        return _incident_routes(obj.update.incident if obj.update is not None else None)
    if isinstance(obj, Incident):
        return _incident_routes(obj)
    if isinstance(obj, Reply):
        return _question_routes(obj.question)
    if isinstance(obj, Question):
        return _question_routes(obj)
    if isinstance(obj, Release):
        return _release_routes(obj)
    if isinstance(obj, (ReleaseEdition, Attachment)):
        return _release_routes(obj.release)
    if isinstance(obj, SiteState):
        # Crisis mode changes the home page's lead and every page's banner: the most read pages.
        return [("public.home", ()), ("incidents.index", ()), ("questions.board_page", ())]
    if isinstance(obj, (Conference, DirectoryEntry)):
        return []  # the press pages are not shared by nginx
    # Departments and anything else: the page everyone opens first.
    return [("public.home", ())]


def _before_flush(session: Session, flush_context, instances) -> None:  # noqa: ARG001
    if not has_app_context() or "edge_refresh" not in current_app.extensions:
        return
    try:
        with session.no_autoflush:
            found = session.info.setdefault(_ROUTES, [])
            for obj in site.public_changes(session):
                found.extend(routes_for(obj))
    except Exception:  # noqa: BLE001 - never let the refresh bookkeeping fail a publication
        log.exception("edge refresh: could not list the pages a change touches")


def _after_commit(session: Session) -> None:
    routes = session.info.pop(_ROUTES, None)
    if not routes or not has_app_context():
        return
    refresher = current_app.extensions.get("edge_refresh")
    if refresher is not None:
        try:
            refresher.submit(routes)
        except Exception:  # noqa: BLE001 - the publication is committed; nginx refreshes on its own anyway
            log.exception("edge refresh: could not queue the refresh")


def _after_rollback(session: Session) -> None:
    session.info.pop(_ROUTES, None)


def install_listeners() -> None:
    """Attach the session hooks (idempotent; they act only inside an app that has a refresher)."""
    site.listen_to_sessions(_before_flush, _after_commit, _after_rollback)


@dataclass(order=True)
class _Batch:
    due: float
    seq: int
    origin: tuple[str, str] = field(compare=False)
    paths: list[str] = field(compare=False)
    again: bool = field(compare=False)


class EdgeRefresher:
    """Sends the refresh requests from one background thread per process (started on first use, after fork)."""

    def __init__(self, app: Flask, targets: list[str], base_url: str, settle: float, timeout: float = 5.0) -> None:
        self.app = app
        self.targets = [urlsplit(t) for t in targets]
        for target in self.targets:
            if target.scheme not in ("http", "https") or not target.hostname:
                raise ConfigError(f"PORTAL_EDGE_REFRESH_URLS: {target.geturl()!r} is not an http(s) address")
        base = urlsplit(base_url) if base_url else None
        self.origin = (base.scheme, base.netloc) if base and base.netloc else None
        self.settle = settle
        self.timeout = timeout
        self.sent = 0
        self.failed = 0
        self._heap: list[_Batch] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._pid = 0
        self._idle = threading.Event()
        self._idle.set()

    def _origin(self) -> tuple[str, str] | None:
        if self.origin is not None:
            return self.origin
        if has_request_context():
            return (request.scheme, request.host)
        return None

    def paths(self, routes: list[Route]) -> list[str]:
        adapter = self.app.url_map.bind("localhost")
        out: list[str] = []
        for endpoint, values in routes:
            try:
                path = adapter.build(endpoint, dict(values))
            except Exception:  # noqa: BLE001 - a route this app does not have
                continue
            if path not in out:
                out.append(path)
        return out

    def submit(self, routes: list[Route]) -> None:
        origin = self._origin()
        if origin is None:
            log.warning("edge refresh: no PORTAL_BASE_URL and no request to take the site's address from; "
                        "nginx refreshes on its own within s-maxage")
            return
        paths = self.paths(routes)
        if not paths:
            return
        with self._cond:
            if self._pid != os.getpid():
                # First use in this process (gunicorn forks after preloading): start the thread here.
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="edge-refresh", daemon=True).start()
            heapq.heappush(self._heap, _Batch(time.monotonic(), next(self._seq), origin, paths, True))
            self._idle.clear()
            self._cond.notify()

    def wait_idle(self, timeout: float) -> bool:
        """Block until every queued refresh (both passes) has been sent; for tests and the CLI."""
        return self._idle.wait(timeout)

    def _take(self) -> list[_Batch]:
        with self._cond:
            while True:
                if not self._heap:
                    self._idle.set()
                    self._cond.wait()
                    continue
                wait = self._heap[0].due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                due = []
                while self._heap and self._heap[0].due <= time.monotonic():
                    due.append(heapq.heappop(self._heap))
                return due

    def _run(self) -> None:
        while True:
            batches = self._take()
            by_origin: dict[tuple[str, str], list[str]] = {}
            for batch in batches:
                merged = by_origin.setdefault(batch.origin, [])
                merged.extend(p for p in batch.paths if p not in merged)
            for origin, paths in by_origin.items():
                for target in self.targets:
                    self._send(target, origin, paths)
            again = [b for b in batches if b.again]
            if again:
                with self._cond:
                    for batch in again:
                        heapq.heappush(self._heap, _Batch(time.monotonic() + self.settle, next(self._seq),
                                                          batch.origin, batch.paths, False))

    def _send(self, target, origin: tuple[str, str], paths: list[str]) -> None:
        scheme, host = origin
        kind = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
        conn = None
        # nginx keeps each page twice, plain and gzip-compressed (deploy/nginx.conf): refresh both.
        for path, encoding in itertools.product(paths, ("identity", "gzip")):
            try:
                if conn is None:
                    conn = kind(target.hostname, target.port, timeout=self.timeout)
                conn.request("GET", path, headers={"Host": host, HEADER: "1", SCHEME_HEADER: scheme,
                                                   "Accept-Encoding": encoding})
                response = conn.getresponse()
                response.read()
                if response.status >= 300:
                    # A redirect means the address is not the server block that holds the cache.
                    raise OSError(f"HTTP {response.status}")
                self.sent += 1
                if response.will_close:
                    conn.close()
                    conn = None
            except Exception as exc:  # noqa: BLE001 - nginx down or slow: it refreshes on its own within s-maxage
                self.failed += 1
                log.warning("edge refresh of %s via %s failed: %s", path, target.netloc, exc)
                if conn is not None:
                    conn.close()
                    conn = None
        if conn is not None:
            conn.close()


def init_app(app: Flask) -> None:
    """Set up the refresher when PORTAL_EDGE_REFRESH_URLS names the nginx servers in front."""
    targets = [t.strip() for t in str(app.config.get("EDGE_REFRESH_URLS") or "").split(",") if t.strip()]
    if not targets:
        return
    install_listeners()
    settle = float(app.config["CACHE_VERSION_TTL"]) + 0.2
    app.extensions["edge_refresh"] = EdgeRefresher(app, targets, str(app.config.get("BASE_URL") or ""), settle)
