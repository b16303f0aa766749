"""The Alembic migrations produce exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from portal.extensions import db
from portal.search.pg_schema import include_object


def test_migrations_match_models(app):
    with app.app_context():
        with db.engine.connect() as conn:
            # The PostgreSQL search tables are made by raw SQL and kept out of the models on purpose: the same
            # filter as `flask db migrate` (migrations/env.py) leaves them out of the comparison.
            context = MigrationContext.configure(conn, opts={"include_object": include_object})
            diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ; run `flask db migrate -d portal/migrations`: {diff}"
