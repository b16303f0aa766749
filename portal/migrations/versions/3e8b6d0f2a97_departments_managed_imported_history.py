"""departments managed by the admin (name history, retirement, merger); imported history questions

Revision ID: 3e8b6d0f2a97
Revises: 7c41e9a2b5d8
Create Date: 2026-11-30 21:50:00

"""
from alembic import op
import sqlalchemy as sa
import portal.models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '3e8b6d0f2a97'
down_revision = '7c41e9a2b5d8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'department_name',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('used_from', portal.models.base.UTCDateTime(), nullable=True),
        sa.Column('used_until', portal.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['department_id'], ['department.id'],
                                name=op.f('fk_department_name_department_id_department')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_department_name')),
    )
    with op.batch_alter_table('department_name', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_department_name_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_department_name_name'), ['name'], unique=False)

    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('retired_at', portal.models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('renamed_at', portal.models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_department_merged_into_id_department'), 'department',
                                    ['merged_into_id'], ['id'])

    with op.batch_alter_table('question', schema=None) as batch_op:
        batch_op.add_column(sa.Column('imported_history', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('question', schema=None) as batch_op:
        batch_op.drop_column('imported_history')

    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_department_merged_into_id_department'), type_='foreignkey')
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('renamed_at')
        batch_op.drop_column('retired_at')
        batch_op.drop_column('created_at')

    with op.batch_alter_table('department_name', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_department_name_name'))
        batch_op.drop_index(batch_op.f('ix_department_name_department_id'))

    op.drop_table('department_name')
