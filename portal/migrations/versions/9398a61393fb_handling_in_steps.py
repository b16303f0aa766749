"""review before publication, handling in steps (interim, follow-up, supplement, redo, opinion), extensions

Revision ID: 9398a61393fb
Revises: 7c41e9a0d2b6
Create Date: 2026-11-30

"""
from alembic import op
import sqlalchemy as sa
import portal.models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '9398a61393fb'
down_revision = '7c41e9a0d2b6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('question_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('published_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['staff_user.id'], name=op.f('fk_question_step_author_id_staff_user')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_question_step_department_id_department')),
    sa.ForeignKeyConstraint(['question_id'], ['question.id'], name=op.f('fk_question_step_question_id_question'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_question_step'))
    )
    with op.batch_alter_table('question_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_question_step_question_id'), ['question_id'], unique=False)

    op.create_table('due_extension',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('working_days', sa.Integer(), nullable=False),
    sa.Column('old_due_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('new_due_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['staff_user.id'], name=op.f('fk_due_extension_decided_by_id_staff_user')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_due_extension_department_id_department')),
    sa.ForeignKeyConstraint(['question_id'], ['question.id'], name=op.f('fk_due_extension_question_id_question'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['staff_user.id'], name=op.f('fk_due_extension_requested_by_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_due_extension'))
    )
    with op.batch_alter_table('due_extension', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_due_extension_question_id'), ['question_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_due_extension_status'), ['status'], unique=False)

    with op.batch_alter_table('question', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reopen_kind', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('reopened_at', portal.models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('extension_count', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('reply', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submitted_at', portal.models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('review_note', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('reply', schema=None) as batch_op:
        batch_op.drop_column('review_note')
        batch_op.drop_column('submitted_at')

    with op.batch_alter_table('question', schema=None) as batch_op:
        batch_op.drop_column('extension_count')
        batch_op.drop_column('reopened_at')
        batch_op.drop_column('reopen_kind')

    with op.batch_alter_table('due_extension', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_due_extension_status'))
        batch_op.drop_index(batch_op.f('ix_due_extension_question_id'))

    op.drop_table('due_extension')
    with op.batch_alter_table('question_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_question_step_question_id'))

    op.drop_table('question_step')
