"""page changes for the static tree

Revision ID: b3d91e4c7a20
Revises: 7af863c3ca84
Create Date: 2026-12-01 00:40:00

"""
from alembic import op
import sqlalchemy as sa
import portal.models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = 'b3d91e4c7a20'
down_revision = '7af863c3ca84'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('page_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('due_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('create_file', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_page_change'))
    )
    with op.batch_alter_table('page_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_page_change_due_at'), ['due_at'], unique=False)


def downgrade():
    with op.batch_alter_table('page_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_page_change_due_at'))
    op.drop_table('page_change')
