"""deliveries per recipient; bounces and suspension on subscriptions

Revision ID: 7c41e9a0b5d3
Revises: 3e8b6d0f2a97
Create Date: 2026-11-26 21:40:00

"""
from alembic import op
import sqlalchemy as sa
import portal.models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '7c41e9a0b5d3'
down_revision = '3e8b6d0f2a97'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('topic', sa.String(length=80), nullable=False),
    sa.Column('subject_type', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('edition', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('recipient', sa.String(length=500), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('claim', sa.String(length=32), nullable=True),
    sa.Column('claimed_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(), nullable=False),
    sa.Column('sent_at', portal.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscription.id'],
                            name=op.f('fk_delivery_subscription_id_subscription'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery')),
    sa.UniqueConstraint('topic', 'channel', 'recipient', name='uq_delivery_topic_channel_recipient')
    )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index('ix_delivery_claim', ['claim'], unique=False)
        batch_op.create_index('ix_delivery_state_next', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_delivery_subject', ['subject_type', 'subject_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_subscription_id'), ['subscription_id'], unique=False)

    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bounce_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_bounce', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('suspended_at', portal.models.base.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.drop_column('suspended_at')
        batch_op.drop_column('last_bounce')
        batch_op.drop_column('bounce_count')

    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_subscription_id'))
        batch_op.drop_index('ix_delivery_subject')
        batch_op.drop_index('ix_delivery_state_next')
        batch_op.drop_index('ix_delivery_claim')

    op.drop_table('delivery')
