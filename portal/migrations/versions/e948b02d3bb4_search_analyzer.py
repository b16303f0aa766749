"""Record which segmenter and rules built the PostgreSQL search index (PostgreSQL only)

Revision ID: e948b02d3bb4
Revises: 7c41e9a0b5d3
Create Date: 2026-11-30

search_version gets an `analyzer` column ("rjieba 0.2.2; rules 2", portal.search.analysis.ANALYZER), written by
every full rebuild. An indexer that starts with another segmenter or other rules rebuilds the index: words
segmented one way are not found by queries segmented another. '' (rows built before this) counts as different.
SQLite databases have no search_version table (the Whoosh backend records the same in its index directory).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e948b02d3bb4'
down_revision = '7c41e9a0b5d3'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE search_version ADD COLUMN analyzer text NOT NULL DEFAULT ''")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE search_version DROP COLUMN analyzer")
