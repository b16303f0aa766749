"""PostgreSQL search backend tables (PostgreSQL only)

Revision ID: 5b1e0c7f9a21
Revises: fa3e6d271c7f
Create Date: 2026-11-26

search_document holds one row per published question: the original text for display, the jieba-segmented text,
and a generated tsvector (title A, body B, reply C) with a GIN index. search_version is one row whose counter a
statement trigger bumps on every change to search_document (including cascaded deletes and TRUNCATE), so every
app server can tell from one primary-key read whether its cached results are still current; the row is created
by the first full rebuild, so "no row" means "never built". SQLite databases get nothing: the Whoosh backend
keeps its index on disk. These tables are kept out of the models on purpose (see portal/search/pg_schema.py).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5b1e0c7f9a21'
down_revision = 'fa3e6d271c7f'
branch_labels = None
depends_on = None


UPGRADE = [
    """
    CREATE TABLE search_document (
        question_id integer PRIMARY KEY REFERENCES question (id) ON DELETE CASCADE,
        number varchar(20) NOT NULL DEFAULT '',
        title text NOT NULL,
        body text NOT NULL,
        reply text NOT NULL DEFAULT '',
        department varchar(64) NOT NULL DEFAULT '',
        department_name text NOT NULL DEFAULT '',
        category varchar(8) NOT NULL DEFAULT '',
        published_at timestamp without time zone NOT NULL,
        seg_title text NOT NULL,
        seg_body text NOT NULL,
        seg_reply text NOT NULL DEFAULT '',
        tsv tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('simple', seg_title), 'A')
            || setweight(to_tsvector('simple', seg_body), 'B')
            || setweight(to_tsvector('simple', seg_reply), 'C')
        ) STORED
    )
    """,
    # Every matching row's tsvector is read to rank it, so keep it inline and uncompressed (decompressing it cost
    # ~10x the ranking itself); the display and segmented text move out of line first when a row is too wide.
    """
    ALTER TABLE search_document
        ALTER COLUMN tsv SET STORAGE MAIN,
        ALTER COLUMN title SET STORAGE EXTERNAL, ALTER COLUMN body SET STORAGE EXTERNAL,
        ALTER COLUMN reply SET STORAGE EXTERNAL, ALTER COLUMN seg_title SET STORAGE EXTERNAL,
        ALTER COLUMN seg_body SET STORAGE EXTERNAL, ALTER COLUMN seg_reply SET STORAGE EXTERNAL
    """,
    "CREATE INDEX ix_search_document_tsv ON search_document USING gin (tsv)",
    "CREATE INDEX ix_search_document_department ON search_document (department)",
    "CREATE INDEX ix_search_document_category ON search_document (category)",
    "CREATE INDEX ix_search_document_published_at ON search_document (published_at)",
    """
    CREATE TABLE search_version (
        id integer PRIMARY KEY CHECK (id = 1),
        version bigint NOT NULL DEFAULT 0,
        built_at timestamp without time zone NOT NULL
    )
    """,
    """
    CREATE FUNCTION search_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE search_version SET version = version + 1 WHERE id = 1;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_document_changed
        AFTER INSERT OR UPDATE OR DELETE ON search_document
        FOR EACH STATEMENT EXECUTE FUNCTION search_version_bump()
    """,
    """
    CREATE TRIGGER search_document_truncated
        AFTER TRUNCATE ON search_document
        FOR EACH STATEMENT EXECUTE FUNCTION search_version_bump()
    """,
]

DOWNGRADE = [
    "DROP TABLE IF EXISTS search_document",
    "DROP FUNCTION IF EXISTS search_version_bump()",
    "DROP TABLE IF EXISTS search_version",
]


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in UPGRADE:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in DOWNGRADE:
        op.execute(statement)
