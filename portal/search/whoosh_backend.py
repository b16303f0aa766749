"""The embedded backend: a Whoosh index on disk, searched by a kept-open searcher per thread.

Layout of SEARCH_INDEX_DIR: `gen-*/` index directories and a `CURRENT` file naming the live one. A rebuild
writes a new generation and replaces CURRENT atomically, so readers never see a half-built index.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

from markupsafe import escape
from whoosh import index
from whoosh.query import And, DateRange, Every, Or, Term

from portal.search import Hit, IndexDocument, IndexUnavailable, ResultCache, SearchQuery, SearchResult, snippets
from portal.search.analysis import ANALYZER, query_terms, search_terms
from portal.search.whoosh_schema import ChineseText, Ranking, fields_for, make_schema
from portal.timeutil import beijing_day_utc

# Indexes built before the schema moved to whoosh_schema pickled this module's name: keep it importable here, so
# they still open (and answer while they are rebuilt for the current segmenter).
__all__ = ["ChineseText", "WhooshBackend"]

CURRENT = "CURRENT"
ANALYZER_FILE = "ANALYZER"  # in each generation: the segmenter and rules that built it (analysis.ANALYZER)
CACHE_SIZE = 512
REFRESH_EVERY = 0.5  # seconds between checks whether the index changed
SNIPPET_CHARS = 160
REBUILD_PROCS = min(2, os.cpu_count() or 1)
REBUILD_MB = 512  # posting buffer per writer process, by Whoosh's estimate of its size (real use is ~1.3x)
REBUILD_CHUNK = 20_000  # documents per writing round: ~10,000 per process, ~300 MB of postings by that estimate


def _day_bounds(query: SearchQuery) -> tuple[datetime | None, datetime | None]:
    """The filter's Beijing days as an inclusive naive-UTC range (DateRange includes its end)."""
    start = beijing_day_utc(query.date_from) if query.date_from else None
    end = beijing_day_utc(query.date_to, end=True) - timedelta(microseconds=1) if query.date_to else None
    return start, end


def ix_searcher(ix: index.Index):
    """A searcher ranking with the portal's BM25 (see whoosh_schema.Ranking)."""
    return ix.searcher(weighting=Ranking())


class WhooshBackend:
    """Whoosh index with one writer at a time (the indexer) and cached, refreshed searchers for readers."""

    name = "whoosh"

    def __init__(self, root: str):
        self.root = Path(root)
        self._local = threading.local()
        self._cache = ResultCache(CACHE_SIZE)
        self._written_at = 0.0  # when this process last wrote: its readers look again at once

    # ---- index directories ------------------------------------------------------------------------------

    def current_dir(self) -> Path | None:
        try:
            name = (self.root / CURRENT).read_text().strip()
        except OSError:
            return None
        path = self.root / name
        return path if name.startswith("gen-") and path.is_dir() else None

    def ready(self) -> bool:
        path = self.current_dir()
        if path is None:
            return False
        try:
            return index.exists_in(str(path))
        except Exception:  # noqa: BLE001 - a damaged directory is simply not ready
            return False

    def built_with(self) -> str | None:
        """The segmenter and rules that built the live index (None when unknown: built before they were recorded)."""
        path = self.current_dir()
        try:
            return (path / ANALYZER_FILE).read_text(encoding="utf-8").strip() if path else None
        except OSError:
            return None

    def stale(self) -> str | None:
        """Why the live index must be rebuilt (another segmenter or rules than this process has), or None."""
        if not self.ready():
            return None
        built = self.built_with()
        if built == ANALYZER:
            return None
        return f"搜索索引由 {built or '未记录的分词器'} 建立，当前为 {ANALYZER}：需要重建索引（flask reindex）"

    def _open(self) -> index.Index:
        path = self.current_dir()
        if path is None:
            raise IndexUnavailable("索引尚未建立")
        try:
            return index.open_dir(str(path))
        except Exception as exc:  # noqa: BLE001 - missing or corrupt files: rebuild
            raise IndexUnavailable(f"索引无法打开：{exc}") from exc

    def _new_generation(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"gen-{datetime.now(UTC):%Y%m%d%H%M%S%f}-{os.getpid()}"
        path.mkdir()
        return path

    def _swap_in(self, path: Path) -> None:
        tmp = self.root / f"{CURRENT}.{os.getpid()}.tmp"
        tmp.write_text(path.name)
        os.replace(tmp, self.root / CURRENT)
        for old in self.root.glob("gen-*"):
            if old != path and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)

    # ---- writing (only the indexer calls these) ---------------------------------------------------------

    def rebuild(self, documents=None, stream=None) -> int:
        """Write every document into a new generation, then swap it in. Returns the count."""
        path = self._new_generation()
        ix = index.create_in(str(path), make_schema())
        docs = iter(documents if documents is not None else stream)
        count = 0
        try:
            while chunk := list(islice(docs, REBUILD_CHUNK)):
                # Two processes on two cores, each writing its own segment (the analyzer is a module-level class,
                # so it pickles). A chunk's postings fit the writers' buffers: nothing is spilled to sorted runs
                # on disk and merged back, which doubled the cost per document at 100,000.
                writer = ix.writer(procs=REBUILD_PROCS, multisegment=REBUILD_PROCS > 1, limitmb=REBUILD_MB)
                try:
                    for doc in chunk:
                        writer.add_document(**fields_for(doc))
                    writer.commit(merge=False)
                except BaseException:
                    writer.cancel()
                    raise
                count += len(chunk)
            (path / ANALYZER_FILE).write_text(ANALYZER + "\n", encoding="utf-8")
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        self._swap_in(path)
        self._written_at = time.monotonic()
        return count

    def apply(self, upserts: list[IndexDocument], deletes: list[int]) -> None:
        if not self.ready():
            raise IndexUnavailable("索引尚未建立")
        ix = self._open()
        writer = ix.writer(timeout=60, delay=0.05)
        try:
            for qid in deletes:
                writer.delete_by_term("qid", str(qid))
            for doc in upserts:
                writer.update_document(**fields_for(doc))
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
        self._written_at = time.monotonic()

    # ---- reading ----------------------------------------------------------------------------------------

    def _searcher(self):
        """This thread's searcher, reopened when CURRENT changes and refreshed when the index has new commits."""
        state = getattr(self._local, "state", None)
        now = time.monotonic()
        if state is not None and now - state["checked"] < REFRESH_EVERY and state["checked"] > self._written_at:
            return state["searcher"], state["version"]
        current = self.current_dir()
        if state is not None and state["dir"] == current:
            searcher = state["searcher"]
            try:
                if not searcher.up_to_date():
                    # Whoosh cannot refresh a searcher over an index without segments (no question published
                    # yet: its reader has none to reuse): open a new one instead.
                    empty = searcher.ixreader.segments() is None
                    searcher = ix_searcher(self._open()) if empty else searcher.refresh()
            except Exception as exc:  # noqa: BLE001 - the directory vanished under us
                self._local.state = None
                raise IndexUnavailable(str(exc)) from exc
            version = (str(current), searcher.ixreader.generation())
            self._local.state = {**state, "searcher": searcher, "checked": now, "version": version}
            return searcher, version
        if state is not None:
            state["searcher"].close()
            self._local.state = None
        searcher = ix_searcher(self._open())
        version = (str(current), searcher.ixreader.generation())
        self._local.state = {"dir": current, "searcher": searcher, "checked": now, "version": version}
        return searcher, version

    def count(self) -> int:
        try:
            searcher, _ = self._searcher()
        except IndexUnavailable:
            return 0
        return searcher.doc_count()

    @staticmethod
    def _word_query(terms: list[str], all_words: bool):
        """The words on `text` (all or any) that decide the hits and rank them (title words weigh more in `text`).

        Every word must match, common ones too (as in FTS5 and the PostgreSQL backend): leaving words found in
        most questions out of the match, as before, let questions without them crowd out the one asked about.
        """
        parts = [Term("text", t) for t in terms]
        return parts[0] if len(parts) == 1 else (And if all_words else Or)(parts)

    @staticmethod
    def _filter(query: SearchQuery):
        parts = []
        if query.department:
            parts.append(Term("department", query.department))
        if query.category:
            parts.append(Term("category", query.category))
        start, end = _day_bounds(query)
        if start or end:
            parts.append(DateRange("published", start, end))
        return And(parts) if parts else None

    def search(self, query: SearchQuery) -> SearchResult:
        searcher, version = self._searcher()
        key = (version, query)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = self._search(searcher, query)
        self._cache.put(key, result)
        return result

    def _search(self, searcher, query: SearchQuery) -> SearchResult:
        terms = query_terms(query.text)
        filt = self._filter(query)
        if not terms:
            base = filt if filt is not None else Every()
            return self._run(searcher, query, base, None, terms, True, sort_by_date=True)
        words = self._word_query(terms, all_words=True)
        result = self._run(searcher, query, words, filt, terms, True)
        if result.total == 0:
            wider = search_terms(query.text)
            if len(wider) > 1 or wider != terms:
                result = self._run(searcher, query, self._word_query(wider, all_words=False), filt, wider, False)
        return result

    def _run(self, searcher, query, match, filt, terms, all_words, sort_by_date=False) -> SearchResult:
        # Two cheap passes beat one that scores every match: the scored search only ranks the page (Whoosh may
        # skip blocks that cannot reach it), and an unscored walk of the matching documents gives the exact
        # total and the facet counts from the department column.
        limit = query.page * query.per_page
        if sort_by_date:
            results = searcher.search(match, limit=limit, filter=filt, sortedby="published", reverse=True)
        else:
            results = searcher.search(match, limit=limit, filter=filt, terms=False)
        total, facets = self._count(searcher, And([match, filt]) if filt is not None else match)
        page_hits = results[(query.page - 1) * query.per_page : limit]
        highlight_terms = frozenset(terms) if query.highlight else frozenset()
        hits = [self._hit(h.fields(), h.score, highlight_terms) for h in page_hits]
        return SearchResult(
            hits=hits, total=total, page=query.page, per_page=query.per_page, facets=dict(facets),
            matched_all_words=all_words, terms=terms,
        )

    def _count(self, searcher, counted) -> tuple[int, Counter]:
        """The exact number of matches and their count per department, segment by segment, without scoring."""
        total = 0
        facets: Counter = Counter()
        for leaf, _ in searcher.leaf_searchers():
            docnums = list(counted.docs(leaf))
            total += len(docnums)
            departments = self._departments(leaf.reader())
            if docnums and departments:
                facets.update(map(departments.__getitem__, docnums))
        facets.pop("-", None)
        return total, facets

    @staticmethod
    def _departments(segment_reader) -> list[str] | None:
        """The department of every document in one segment, read once: segments never change once written, and
        counting facets over tens of thousands of matches one column lookup at a time costs more than the search."""
        values = getattr(segment_reader, "_portal_departments", None)
        if values is None and segment_reader.has_column("department"):
            values = segment_reader._portal_departments = list(segment_reader.column_reader("department"))
        return values

    @classmethod
    def _hit(cls, f: dict, score: float | None, terms: frozenset[str]) -> Hit:
        title_html = snippets.mark_all(f["title"], terms) if terms else ""
        snippet = ""
        if terms:
            snippet = snippets.fragments(f.get("body", ""), terms) or snippets.fragments(f.get("reply", ""), terms)
        if not title_html:
            title_html = str(escape(f["title"]))
        if not snippet:
            snippet = str(escape(f.get("body", "")[:SNIPPET_CHARS]))
        published = f.get("published")
        return Hit(
            question_id=int(f["qid"]), number=f["number"], title=f["title"], title_html=title_html,
            snippet_html=snippet, department=f.get("department_name", ""),
            category="" if f.get("category") == "-" else f.get("category", ""),
            published_at=published.replace(tzinfo=UTC) if published else None, score=score or 0.0,
        )

    def similar(self, title: str, body: str, k: int) -> list[Hit]:
        searcher, version = self._searcher()
        key = (version, "similar", title[:100], k)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        terms = search_terms(title)[:12]
        if not terms:
            return []
        query = Or([Term("title", t, boost=2.0) for t in terms] + [Term("text", t) for t in terms])
        hits = [self._hit(h.fields(), h.score, frozenset()) for h in searcher.search(query, limit=k, terms=False)]
        self._cache.put(key, hits)
        return hits
