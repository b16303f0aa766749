"""release withdrawal, removed attachments, release notices, release subscriptions

Revision ID: 9d2f4b6a1c3e
Revises: c3a9e1d5b7f2
Create Date: 2026-11-25 16:30:00

"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa
import portal.models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '9d2f4b6a1c3e'
down_revision = 'c3a9e1d5b7f2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('press_release', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_at', portal.models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('notified_at', portal.models.base.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_press_release_notified_at'), ['notified_at'], unique=False)

    with op.batch_alter_table('press_attachment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('removed_at', portal.models.base.UTCDateTime(), nullable=True))

    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='bulletins', nullable=False))

    # Releases published before this revision were never announced and must not all be mailed and pinged now:
    # they count as announced. Scheduled ones still ahead stay pending and are announced when they come due.
    release = sa.table(
        'press_release',
        sa.column('publish_at', portal.models.base.UTCDateTime()),
        sa.column('notified_at', portal.models.base.UTCDateTime()),
    )
    op.execute(
        release.update()
        .where(release.c.publish_at <= datetime.now(UTC))
        .values(notified_at=release.c.publish_at)
    )


def downgrade():
    # Without the column a release subscription would read as one to every bulletin: drop those rows.
    op.execute("DELETE FROM subscription WHERE kind = 'releases'")
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.drop_column('kind')

    with op.batch_alter_table('press_attachment', schema=None) as batch_op:
        batch_op.drop_column('removed_at')

    with op.batch_alter_table('press_release', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_press_release_notified_at'))
        batch_op.drop_column('notified_at')
        batch_op.drop_column('withdrawn_reason')
        batch_op.drop_column('withdrawn_at')
