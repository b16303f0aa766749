"""bulletin numbers taken at publication; a press notice is a conference of the press room

Revision ID: 7c41e9a2b5d8
Revises: 4389189d07a8
Create Date: 2026-11-30 21:40:00

"""
from datetime import timedelta

from alembic import op
import sqlalchemy as sa
import portal.models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '7c41e9a2b5d8'
down_revision = '4389189d07a8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bulletin_update', schema=None) as batch_op:
        batch_op.add_column(sa.Column('numbered', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('conference_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_bulletin_update_conference_id'), ['conference_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_bulletin_update_conference_id_press_conference'), 'press_conference', ['conference_id'], ['id']
        )

    # One system: every press notice already on a timeline becomes a conference of the press room (one hour long,
    # as the console's default), cancelled when the notice was withdrawn.
    when = portal.models.base.UTCDateTime()
    update = sa.table(
        'bulletin_update', sa.column('id', sa.Integer()), sa.column('incident_id', sa.Integer()),
        sa.column('kind', sa.String()), sa.column('title', sa.String()), sa.column('body_md', sa.Text()),
        sa.column('body_html', sa.Text()), sa.column('press_at', when), sa.column('press_place', sa.String()),
        sa.column('livestream_url', sa.String()), sa.column('publish_at', when), sa.column('withdrawn_at', when),
        sa.column('conference_id', sa.Integer()),
    )
    conference = sa.table(
        'press_conference', sa.column('id', sa.Integer()), sa.column('title', sa.String()),
        sa.column('starts_at', when), sa.column('ends_at', when), sa.column('place', sa.String()),
        sa.column('livestream_url', sa.String()), sa.column('spokesperson', sa.String()),
        sa.column('description_md', sa.Text()), sa.column('description_html', sa.Text()),
        sa.column('incident_id', sa.Integer()), sa.column('sequence', sa.Integer()),
        sa.column('cancelled_at', when), sa.column('created_at', when), sa.column('updated_at', when),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(update).where(
        update.c.kind == 'press', update.c.press_at.is_not(None), update.c.conference_id.is_(None))).all()
    for row in rows:
        new_id = bind.execute(conference.insert().values(
            title=row.title, starts_at=row.press_at, ends_at=row.press_at + timedelta(hours=1),
            place=row.press_place or '', livestream_url=row.livestream_url, spokesperson='',
            description_md=row.body_md, description_html=row.body_html, incident_id=row.incident_id, sequence=0,
            cancelled_at=row.withdrawn_at, created_at=row.publish_at, updated_at=row.withdrawn_at or row.publish_at,
        ).returning(conference.c.id)).scalar_one()
        bind.execute(update.update().where(update.c.id == row.id).values(conference_id=new_id))


def downgrade():
    # The conferences made from press notices stay on the calendar (they are real conferences).
    with op.batch_alter_table('bulletin_update', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_bulletin_update_conference_id_press_conference'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_bulletin_update_conference_id'))
        batch_op.drop_column('conference_id')
        batch_op.drop_column('numbered')
