"""background export jobs

Revision ID: e5a7c2b9d4f1
Revises: 9d2f4b6a1c3e
Create Date: 2026-11-25 16:30:00

"""
from alembic import op
import sqlalchemy as sa
import portal.models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = 'e5a7c2b9d4f1'
down_revision = '9d2f4b6a1c3e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('export_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('filters', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=100), nullable=True),
    sa.Column('download_name', sa.String(length=100), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('heartbeat_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('finished_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_user.id'], name=op.f('fk_export_job_created_by_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_job'))
    )
    with op.batch_alter_table('export_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_job_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_export_job_status'), ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('export_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_job_status'))
        batch_op.drop_index(batch_op.f('ix_export_job_created_by_id'))

    op.drop_table('export_job')
