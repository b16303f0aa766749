"""The PostgreSQL search backend's tables: names, and the Alembic filter that keeps them out of the models' diff.

`search_document` and `search_version` exist only on PostgreSQL (created by migration 5b1e0c7f9a21, raw SQL: a
generated tsvector column, a GIN index and a trigger that SQLAlchemy models would not describe). They are
deliberately not in `portal.models` metadata: SQLite databases have no such tables, so a model for them would make
`flask db migrate` and tests/test_schema.py see a difference on SQLite instead. Autogenerate and the schema test
skip them with `include_object`, or they would report them as tables to drop on PostgreSQL.
"""

from __future__ import annotations

PG_ONLY_TABLES = frozenset({"search_document", "search_version"})


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic `include_object`: leave the PostgreSQL-only search tables (and their indexes) alone."""
    if type_ == "table":
        return name not in PG_ONLY_TABLES
    table = getattr(obj, "table", None)
    return table is None or table.name not in PG_ONLY_TABLES
