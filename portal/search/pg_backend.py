"""The shared backend: jieba-segmented text in a PostgreSQL tsvector column with a GIN index, no extension needed.

Every app server reads the same `search_document` table (created by a PostgreSQL-only migration; see
portal/search/pg_schema.py). Words are segmented in Python (portal.search.analysis) and stored space-separated,
so PostgreSQL's `simple` configuration only has to split on spaces; queries are built per word with
`plainto_tsquery('simple', :word)` so the index and the query go through the same parser, and user text only
ever travels as bind parameters. Writers (the indexer) serialise on an advisory lock; a statement trigger bumps
`search_version`, which keys the per-process result cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice

from flask import Flask
from markupsafe import escape
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from portal.search import Hit, IndexDocument, IndexUnavailable, ResultCache, SearchQuery, SearchResult
from portal.search.analysis import ANALYZER, query_terms, search_terms, segmented
from portal.search.snippets import SNIPPET_CHARS, fragments, mark_all
from portal.timeutil import beijing_day_utc

CACHE_SIZE = 512
BATCH = 1000
# ts_rank weights for {D, C, B, A}: title (A) counts most, body (B) and reply (C) alike, as in the Whoosh schema.
WEIGHTS = "'{0.1, 0.4, 0.4, 1.0}'::float4[]"
# ts_rank (term frequency, like Whoosh's BM25) rather than ts_rank_cd (cover density): every match is ranked to
# find the top page, and at 100k documents ts_rank_cd cost ~3x as much a row (107 vs 37 ms for 6,763 matches).
# Normalisation 1 divides by 1 + log(document length), so long texts do not win by size alone.
RANK = f"ts_rank({WEIGHTS}, d.tsv, q.q, 1)"
WRITE_LOCK = 0x5E_A4C4  # pg_advisory_xact_lock key: one writer at a time across every app server

# Only what the writers insert (a private MetaData: the models know nothing of this PostgreSQL-only table, and
# `tsv` is a generated column PostgreSQL fills in).
_documents = Table(
    "search_document", MetaData(),
    Column("question_id", Integer, primary_key=True),
    Column("number", Text), Column("title", Text), Column("body", Text), Column("reply", Text),
    Column("department", Text), Column("department_name", Text), Column("category", Text),
    Column("published_at", DateTime),
    Column("seg_title", Text), Column("seg_body", Text), Column("seg_reply", Text),
)
_WRITTEN = [c.name for c in _documents.columns if c.name != "question_id"]

_COLUMNS = "d.question_id, d.number, d.title, d.body, d.reply, d.department_name, d.category, d.published_at"


def _row(doc: IndexDocument) -> dict:
    published = doc.published_at
    published = published.astimezone(UTC).replace(tzinfo=None) if published.tzinfo else published
    return {
        "question_id": doc.question_id, "number": doc.number or "", "title": doc.title, "body": doc.body,
        "reply": doc.reply or "", "department": doc.department or "", "department_name": doc.department_name or "",
        "category": doc.category or "", "published_at": published,
        "seg_title": segmented(doc.title), "seg_body": segmented(doc.body), "seg_reply": segmented(doc.reply or ""),
    }


def _batches(docs: Iterable[IndexDocument], size: int) -> Iterator[list[dict]]:
    it = iter(docs)
    while batch := list(islice(it, size)):
        yield [_row(doc) for doc in batch]


def _tsquery(terms: list[str], all_words: bool, params: dict) -> str:
    """SQL for the tsquery of these words (AND or OR), each word a bind parameter run through the index's parser."""
    joiner = " && " if all_words else " || "
    parts = []
    for i, term in enumerate(terms):
        params[f"t{i}"] = term
        parts.append(f"plainto_tsquery('simple', :t{i})")
    return "(" + joiner.join(parts) + ")"


def _filters(query: SearchQuery, params: dict) -> str:
    parts = []
    if query.department:
        parts.append("d.department = :department")
        params["department"] = query.department
    if query.category:
        parts.append("d.category = :category")
        params["category"] = query.category
    if query.date_from:
        parts.append("d.published_at >= :date_from")
        params["date_from"] = beijing_day_utc(query.date_from)
    if query.date_to:
        parts.append("d.published_at < :date_to")
        params["date_to"] = beijing_day_utc(query.date_to, end=True)
    return "".join(f" AND {p}" for p in parts)


class PostgresBackend:
    """Search over the `search_document` table through the app's SQLAlchemy engine."""

    name = "postgres"

    def __init__(self, app: Flask):
        self.app = app
        self._cache = ResultCache(CACHE_SIZE)
        self._tables_exist = False

    # ---- connections and the version ---------------------------------------------------------------------

    @staticmethod
    def _engine():
        from portal.extensions import db

        return db.engine

    def _version(self, conn: Connection) -> int | None:
        """The change counter, or None when the index was never built (or the tables do not exist here)."""
        if not self._tables_exist:
            if conn.dialect.name != "postgresql":
                return None
            # Checked without failing a statement, so a caller's transaction stays usable; once seen, kept.
            if conn.execute(text("SELECT to_regclass('search_version') IS NULL")).scalar():
                return None
            self._tables_exist = True
        return conn.execute(text("SELECT version FROM search_version WHERE id = 1")).scalar()

    def ready(self) -> bool:
        with self._engine().connect() as conn:
            return self._version(conn) is not None

    def stale(self) -> str | None:
        """Why the index must be rebuilt (built by another segmenter or other rules than this process's), or None."""
        with self._engine().connect() as conn:
            if self._version(conn) is None:
                return None
            built = conn.execute(text("SELECT analyzer FROM search_version WHERE id = 1")).scalar()
        if built == ANALYZER:
            return None
        return f"搜索索引由 {built or '未记录的分词器'} 建立，当前为 {ANALYZER}：需要重建索引（flask reindex）"

    def count(self) -> int:
        with self._engine().connect() as conn:
            if self._version(conn) is None:
                return 0
            return conn.execute(text("SELECT count(*) FROM search_document")).scalar_one()

    # ---- writing (only the indexer calls these) ---------------------------------------------------------

    @staticmethod
    def _upsert(conn: Connection, rows: list[dict]) -> None:
        stmt = insert(_documents)
        stmt = stmt.on_conflict_do_update(index_elements=["question_id"],
                                          set_={name: stmt.excluded[name] for name in _WRITTEN})
        conn.execute(stmt, rows)

    def apply(self, upserts: list[IndexDocument], deletes: list[int]) -> None:
        """Upsert these documents and delete these question ids in one transaction."""
        with self._engine().begin() as conn:
            if self._version(conn) is None:
                raise IndexUnavailable("索引尚未建立")
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK})
            if deletes:
                conn.execute(text("DELETE FROM search_document WHERE question_id = ANY(:ids)"),
                             {"ids": list(deletes)})
            for rows in _batches(upserts, BATCH):
                self._upsert(conn, rows)

    def rebuild(self, documents: list[IndexDocument] | None = None, stream=None) -> int:
        """Replace every row in one transaction: readers see the old rows until the commit, then the new ones.

        DELETE rather than TRUNCATE: TRUNCATE takes an ACCESS EXCLUSIVE lock, so every search would wait for the
        whole rebuild instead of reading the old rows (the dead rows are left to autovacuum).
        """
        count = 0
        with self._engine().begin() as conn:
            if conn.dialect.name != "postgresql":
                raise IndexUnavailable("PostgreSQL 搜索后端需要 PostgreSQL 数据库")
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK})
            conn.execute(text("DELETE FROM search_document"))
            for rows in _batches(documents if documents is not None else stream, BATCH):
                self._upsert(conn, rows)
                count += len(rows)
            conn.execute(text(
                "INSERT INTO search_version (id, version, built_at, analyzer) VALUES (1, 1, :now, :analyzer) "
                "ON CONFLICT (id) DO UPDATE SET version = search_version.version + 1, built_at = excluded.built_at, "
                "analyzer = excluded.analyzer"
            ), {"now": datetime.now(UTC).replace(tzinfo=None), "analyzer": ANALYZER})
            conn.execute(text("ANALYZE search_document"))
        return count

    # ---- reading ----------------------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResult:
        with self._engine().connect() as conn:
            version = self._version(conn)
            if version is None:
                raise IndexUnavailable("索引尚未建立")
            key = (version, query)
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            result = self._search(conn, query)
        self._cache.put(key, result)
        return result

    def _search(self, conn: Connection, query: SearchQuery) -> SearchResult:
        terms = query_terms(query.text)
        if not terms:
            return self._run(conn, query, None, terms, True)
        result = self._run(conn, query, terms, terms, True)
        if result.total == 0:
            wider = search_terms(query.text)
            if len(wider) > 1 or wider != terms:
                result = self._run(conn, query, wider, wider, False)
        return result

    def _run(self, conn: Connection, query: SearchQuery, words: list[str] | None, terms: list[str],
             all_words: bool) -> SearchResult:
        """One statement: the matches (ranked once), facet counts over all of them, and the page's rows."""
        params: dict = {"limit": query.per_page, "offset": (query.page - 1) * query.per_page}
        where = _filters(query, params)
        # The SQL is assembled from fixed fragments and generated placeholder names only; every value the user
        # typed (words, filters, dates) travels as a bind parameter in `params`.
        if words is None:  # browse: filters only, newest first
            matches = (
                "SELECT d.question_id, d.department, d.published_at, 0::real AS rank "
                f"FROM search_document d WHERE true{where}"  # nosec B608
            )
        else:
            matches = (
                f"SELECT d.question_id, d.department, d.published_at, {RANK} AS rank "  # nosec B608
                f"FROM search_document d, (SELECT {_tsquery(words, all_words, params)} AS q) q "
                f"WHERE d.tsv @@ q.q{where}"
            )
        # Fixed SQL fragments and generated placeholder names only: values are bind parameters.
        sql = f"""
            WITH m AS MATERIALIZED ({matches}),
            f AS (SELECT coalesce(jsonb_object_agg(department, n), '{{}}'::jsonb) AS facets
                  FROM (SELECT department, count(*) AS n FROM m GROUP BY department) g),
            p AS (SELECT question_id, rank, published_at FROM m
                  ORDER BY rank DESC, published_at DESC, question_id DESC LIMIT :limit OFFSET :offset)
            SELECT f.facets, p.rank, {_COLUMNS}
            FROM f LEFT JOIN (p JOIN search_document d ON d.question_id = p.question_id) ON true
            ORDER BY p.rank DESC, p.published_at DESC, p.question_id DESC
        """  # nosec B608
        rows = conn.execute(text(sql), params).all()
        facets: dict[str, int] = dict(rows[0].facets) if rows else {}
        total = sum(facets.values())
        facets.pop("", None)
        marks = frozenset(terms) if query.highlight else frozenset()
        hits = [self._hit(r, marks) for r in rows if r.question_id is not None]
        return SearchResult(hits=hits, total=total, page=query.page, per_page=query.per_page, facets=facets,
                            matched_all_words=all_words, terms=terms)

    @staticmethod
    def _hit(row, marks: frozenset[str]) -> Hit:
        title_html = snippet = ""
        if marks:
            title_html = mark_all(row.title, marks)
            snippet = fragments(row.body, marks) or fragments(row.reply, marks)
        return Hit(
            question_id=row.question_id, number=row.number, title=row.title,
            title_html=title_html or str(escape(row.title)),
            snippet_html=snippet or str(escape(row.body[:SNIPPET_CHARS])),
            department=row.department_name, category=row.category,
            published_at=row.published_at.replace(tzinfo=UTC) if row.published_at else None,
            score=float(row.rank or 0.0),
        )

    def similar(self, title: str, body: str, k: int) -> list[Hit]:
        terms = search_terms(title)[:12]
        if not terms:
            return []
        with self._engine().connect() as conn:
            version = self._version(conn)
            if version is None:
                raise IndexUnavailable("索引尚未建立")
            key = (version, "similar", title[:100], k)
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            params: dict = {"k": k}
            # Fixed SQL fragments and generated placeholder names only: values are bind parameters.
            sql = f"""
                SELECT {RANK} AS rank, {_COLUMNS}
                FROM search_document d, (SELECT {_tsquery(terms, False, params)} AS q) q
                WHERE d.tsv @@ q.q
                ORDER BY rank DESC, d.published_at DESC, d.question_id DESC LIMIT :k
            """  # nosec B608
            hits = [self._hit(r, frozenset()) for r in conn.execute(text(sql), params)]
        self._cache.put(key, hits)
        return hits
