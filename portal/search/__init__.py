"""Search over the published questions: the backend interface, and choosing a backend by configuration.

Backends: `whoosh` (default, embedded: an index directory per server) and `postgres` (jieba-segmented text in a
tsvector column with a GIN index, shared by every app server). Writes reach a backend only through the outbox
(portal.search.indexer); views only read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from flask import Flask, current_app

from portal.numbers import page_count


@dataclass(frozen=True)
class SearchQuery:
    """What the citizen asked for: text, filters (department slug, category, dates in Beijing time) and a page."""

    text: str
    department: str | None = None
    category: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1
    per_page: int = 10
    highlight: bool = True


@dataclass
class Hit:
    """One result: ids to link, and highlighted HTML fragments (escaped text with <mark>)."""

    question_id: int
    number: str
    title: str
    title_html: str
    snippet_html: str
    department: str
    category: str
    published_at: datetime | None
    score: float = 0.0


@dataclass
class SearchResult:
    """A page of hits, the total, facet counts by department slug, and how the query was matched."""

    hits: list[Hit]
    total: int
    page: int
    per_page: int
    facets: dict[str, int] = field(default_factory=dict)
    matched_all_words: bool = True
    terms: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return page_count(self.total, self.per_page)


@dataclass
class IndexDocument:
    """What a backend stores for one published question."""

    question_id: int
    number: str
    title: str
    body: str
    reply: str
    department: str  # slug, "" when none
    department_name: str
    category: str
    published_at: datetime


class ResultCache:
    """A small thread-safe LRU of search results; keys carry the index version, so old entries just age out."""

    def __init__(self, size: int = 512):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class IndexUnavailable(Exception):
    """The index is missing or being rebuilt; the page shows a notice instead of results."""


class SearchBackend(Protocol):
    """What every backend offers."""

    name: str

    def apply(self, upserts: list[IndexDocument], deletes: list[int]) -> None:
        """Write these documents and remove these question ids, as one commit."""

    def search(self, query: SearchQuery) -> SearchResult:
        """Ranked hits with snippets and facets; raises IndexUnavailable when it cannot answer."""

    def similar(self, title: str, body: str, k: int) -> list[Hit]:
        """Up to k published questions like this one (for suggestions while asking)."""

    def rebuild(self, documents: list[IndexDocument] | None, stream=None) -> int:
        """Build a fresh index from these documents (or the iterable `stream`) and swap it in."""

    def count(self) -> int:
        """How many documents the index holds."""

    def ready(self) -> bool:
        """Whether the index exists and can answer."""

    def stale(self) -> str | None:
        """Why the index must be rebuilt (another segmenter or rules built it), or None when it is current."""


def init_app(app: Flask) -> None:
    """Create the configured backend and keep it on the app."""
    kind = app.config.get("SEARCH_BACKEND", "whoosh")
    if kind == "postgres":
        from portal.search.pg_backend import PostgresBackend

        backend: SearchBackend = PostgresBackend(app)
    elif kind == "whoosh":
        from portal.search.whoosh_backend import WhooshBackend

        backend = WhooshBackend(app.config["SEARCH_INDEX_DIR"])
    else:
        raise ValueError(f"PORTAL_SEARCH_BACKEND must be whoosh or postgres, not {kind!r}")
    app.extensions["search"] = backend


def backend() -> SearchBackend:
    """The current app's backend."""
    return current_app.extensions["search"]
