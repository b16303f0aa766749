"""Which public pages a change alters, recorded as `PageChange` rows in the change's own transaction.

Every server's worker writes the public pages as files (portal/pagetree.py) and reads these rows to know which to
write again. A session hook lists, at each flush, the pages that the public objects being flushed appear on
(`routes_for`: the changed page first, then the lists and feeds that show it) and adds one row per page, so the
rows commit or roll back with the publication itself: a committed bulletin is never left without its rows, even
if the worker is down at that moment (it reads them when it comes back). A scheduled update or release gets rows
due at its publication time as well, so its pages are written when it appears, not when it was saved.

Pages read through the app because no server had their file yet are recorded too (`FillRecorder`), at most once
a minute per page and process, so the tree fills with the pages readers actually open.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from datetime import datetime
from urllib.parse import unquote

from flask import Flask, current_app, has_app_context
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from portal.models import (
    Attachment,
    Conference,
    Department,
    DirectoryEntry,
    Incident,
    PageChange,
    Question,
    Release,
    ReleaseEdition,
    Reply,
    SiteState,
    Update,
    UpdateEdition,
)
from portal.services.ops import site
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

EVERY_PAGE = "*"
_SEEN = "portal_page_changes"

Route = tuple[str, tuple[tuple[str, str], ...]]

_BULLETINS = [("incidents.index", ()), ("feeds.bulletins_rss", ()), ("feeds.bulletins_atom", ()),
              ("public.home", ())]
_ANSWERS = [("questions.board_page", ()), ("feeds.answers_atom", ()), ("public.home", ())]
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


def routes_for(obj) -> list[Route] | None:
    """The public pages (endpoint and URL values) that a change to `obj` alters, the most read first; None for a
    change every page shows (the crisis banner, a department's name), [] for one no written page shows."""
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
    if isinstance(obj, (Conference, DirectoryEntry)):
        return []  # the press room's pages are not public files (they carry no public Cache-Control)
    if isinstance(obj, (SiteState, Department)):
        return None
    return [("public.home", ())]


def _scheduled_for(obj, now: datetime) -> datetime | None:
    """When a scheduled update or release (or an edition of one) appears, if that is still to come."""
    owner = obj.update if isinstance(obj, UpdateEdition) else obj.release if isinstance(obj, ReleaseEdition) else obj
    when = getattr(owner, "publish_at", None) if isinstance(owner, (Update, Release)) else None
    return when if when is not None and when > now else None


def pages(app: Flask, routes: list[Route]) -> list[tuple[str, bool]]:
    """(URL path, percent-decoded as nginx's $uri; whether its file is written even if the tree has none yet: all but
    question pages) of `routes`, in order, each path once; unknown endpoints skipped."""
    adapter = app.url_map.bind("localhost")
    out: dict[str, bool] = {}
    for endpoint, values in routes:
        try:
            path = unquote(adapter.build(endpoint, dict(values)))
        except Exception:  # noqa: BLE001 - a route this app does not have
            continue
        out.setdefault(path, endpoint != "questions.detail")
    return list(out.items())


def paths(app: Flask, routes: list[Route]) -> list[str]:
    """The URL paths of `routes` (see `pages`)."""
    return [path for path, _ in pages(app, routes)]


def _before_flush(session: Session, flush_context, instances) -> None:  # noqa: ARG001
    if not has_app_context():
        return
    try:
        with session.no_autoflush:
            now = utcnow()
            wanted: list[tuple[str, datetime, bool]] = []
            for obj in list(site.public_changes(session)):
                routes = routes_for(obj)
                found = [(EVERY_PAGE, True)] if routes is None else pages(current_app, routes)
                wanted += [(path, now, create) for path, create in found]
                later = _scheduled_for(obj, now)
                if later is not None:
                    wanted += [(path, later, create) for path, create in found]
            seen: set[tuple[str, datetime]] = session.info.setdefault(_SEEN, set())
            for path, due, create in wanted:
                if (path, due) not in seen:
                    seen.add((path, due))
                    session.add(PageChange(path=path, due_at=due, created_at=now, create_file=create))
    except Exception:  # noqa: BLE001 - never let the bookkeeping fail a publication (the sweep catches up)
        log.exception("page tree: could not list the pages a change touches")


def _forget(session: Session) -> None:
    session.info.pop(_SEEN, None)


def install_listeners() -> None:
    """Attach the session hooks (idempotent; they act inside an app context)."""
    site.listen_to_sessions(_before_flush, _forget, _forget)


class FillRecorder:
    """Records pages read through the app (no server had their file) as due PageChange rows, from one background
    thread per process, each path at most once per `every` seconds; never delays or fails the request."""

    def __init__(self, engine_of, endpoints, every: float = 60.0, remember: int = 10000) -> None:
        self.engine_of = engine_of
        self.endpoints = frozenset(endpoints)
        self.every = every
        self.remember = remember
        self._recent: OrderedDict[str, float] = OrderedDict()
        self._pending: list[str] = []
        self._cond = threading.Condition()
        self._pid = 0

    def __call__(self, endpoint: str, path: str) -> None:
        if endpoint not in self.endpoints:
            return
        now = time.monotonic()
        with self._cond:
            last = self._recent.get(path)
            if last is not None and now - last < self.every:
                return
            self._recent[path] = now
            self._recent.move_to_end(path)
            while len(self._recent) > self.remember:
                self._recent.popitem(last=False)
            if self._pid != os.getpid():  # first use in this process (gunicorn forks after preloading)
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="page-fill", daemon=True).start()
            self._pending.append(path)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                batch, self._pending = self._pending, []
            try:
                engine: Engine = self.engine_of()
                now = utcnow()
                with engine.begin() as conn:
                    conn.execute(insert(PageChange.__table__),
                                 [{"path": p, "due_at": now, "created_at": now, "create_file": True} for p in batch])
            except Exception:  # noqa: BLE001 - the page is still served by the app; it is asked for again later
                log.exception("page tree: could not record %d pages to fill", len(batch))
                with self._cond:
                    for path in batch:
                        self._recent.pop(path, None)
