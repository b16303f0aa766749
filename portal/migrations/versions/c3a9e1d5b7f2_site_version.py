"""site version and crisis switches

Revision ID: c3a9e1d5b7f2
Revises: cd566dfe6cdc
Create Date: 2026-11-25 14:45:00

"""
from alembic import op
import sqlalchemy as sa
import portal.models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = 'c3a9e1d5b7f2'
down_revision = 'cd566dfe6cdc'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table('site_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('changed_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('crisis_mode', sa.Boolean(), nullable=False),
    sa.Column('intake_paused', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_version'))
    )
    op.bulk_insert(table, [{"id": 1, "version": 1, "changed_at": None, "crisis_mode": False, "intake_paused": False}])


def downgrade():
    op.drop_table('site_version')
