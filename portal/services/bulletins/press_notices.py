"""Press notices (新闻发布会预告) as the timeline's side of a press-room conference: one system for one event.

A notice posted on an incident creates its conference (publishing.post_update); a conference announced in the
press room for an incident gets its notice here, and a change or cancellation there reaches the notice.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal.errors import ValidationFailed
from portal.markup import render_markdown
from portal.models import Conference, StaffUser, Update, UpdateEdition
from portal.models.bulletin import KIND_PRESS
from portal.services import audit
from portal.timeutil import utcnow


def add_conference_notice(session: Session, actor: StaffUser, conference: Conference, body: str) -> Update:
    """The 新闻发布会预告 on the incident's timeline for a conference announced in the press room (no commit)."""
    incident = conference.incident
    assert incident is not None
    if incident.status == "closed":
        raise ValidationFailed({"incident_slug": "事件已结束，不能再在其时间线上发布预告；请先更改事件状态。"})
    now = utcnow()
    body = body or "将召开新闻发布会，欢迎媒体参加。"
    html = render_markdown(body)
    update = Update(
        incident=incident, kind=KIND_PRESS, title=conference.title, body_md=body, body_html=html,
        author_id=actor.id, author_title=actor.role_title, created_at=now, publish_at=now, updated_at=now,
        edition=1, press_at=conference.starts_at, press_place=conference.place,
        livestream_url=conference.livestream_url, conference=conference,
    )
    session.add(update)
    session.flush()
    session.add(UpdateEdition(update_id=update.id, number=1, title=update.title, body_md=body, body_html=html,
                              author_id=actor.id, created_at=now))
    incident.updated_at = now
    audit.record(session, actor, "update.published", "update", update.id, incident=incident.slug,
                 conference=conference.id)
    return update


def follow_conference(conference: Conference) -> None:
    """A changed or cancelled conference: its notices show the new facts and are re-issued in the feeds (no commit)."""
    now = utcnow()
    for notice in conference.notices:
        notice.press_at, notice.press_place = conference.starts_at, conference.place
        notice.livestream_url = conference.livestream_url
        notice.updated_at = max(now, notice.publish_at)
        notice.incident.updated_at = now
