"""Read-side queries for bulletins: public lists, feed items, and the content version behind ETag/Last-Modified."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from portal.models import Department, Incident, Question, Reply, Update
from portal.models.bulletin import SEVERITIES, STATUS_ORDER, update_question, visible_update
from portal.models.question import PUBLISHED
from portal.services.bulletins.publishing import SLUG_RE
from portal.timeutil import utcnow

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ContentVersion:
    """What changes whenever a feed's or page's content changes: drives ETag and Last-Modified."""

    last_modified: datetime
    etag: str


def _version(kind: str, parts: list[object], last: datetime | None) -> ContentVersion:
    seed = "|".join([kind, *(str(p) for p in parts)])
    return ContentVersion(last or EPOCH, hashlib.sha256(seed.encode()).hexdigest()[:32])


def list_incidents(session: Session) -> list[Incident]:
    """Every incident: active ones first (进行中, then 已控制), newest start first within a status."""
    order = case(STATUS_ORDER, value=Incident.status, else_=9)
    return list(session.scalars(select(Incident).order_by(order, Incident.started_at.desc(), Incident.id.desc())))


def _with_timeline():
    """Load the timeline with its editions and linked questions up front: templates never query."""
    return selectinload(Incident.updates).selectinload(Update.questions)


def get_incident(session: Session, slug: str) -> Incident | None:
    """An incident by its slug, with its timeline; None for an unknown or malformed slug."""
    if not slug or not SLUG_RE.match(slug):
        return None
    return session.scalar(select(Incident).where(Incident.slug == slug).options(_with_timeline()))


def get_incident_by_id(session: Session, incident_id: int) -> Incident | None:
    """An incident by id, with its timeline (the console)."""
    return session.scalar(select(Incident).where(Incident.id == incident_id).options(_with_timeline()))


def feed_updates(session: Session, limit: int, incident_id: int | None = None, now: datetime | None = None):
    """Visible updates, the most recently issued (published, corrected or withdrawn) first."""
    now = now or utcnow()
    stmt = select(Update).where(visible_update(now)).options(selectinload(Update.incident))
    if incident_id is not None:
        stmt = stmt.where(Update.incident_id == incident_id)
    return list(session.scalars(stmt.order_by(Update.updated_at.desc(), Update.id.desc()).limit(limit)))


def bulletins_version(session: Session, incident_id: int | None = None, now: datetime | None = None) -> ContentVersion:
    """Version of the visible bulletins (all, or one incident): a scheduled update changes it when it comes due."""
    now = now or utcnow()
    stmt = select(func.count(Update.id), func.max(Update.updated_at), func.sum(Update.edition)).where(
        visible_update(now)
    )
    inc = select(func.count(Incident.id), func.max(Incident.updated_at))
    if incident_id is not None:
        stmt = stmt.where(Update.incident_id == incident_id)
        inc = inc.where(Incident.id == incident_id)
    count, newest, editions = session.execute(stmt).one()
    inc_count, inc_newest = session.execute(inc).one()
    # func.max over a TypeDecorator column may come back naive on some drivers: normalise through the model type.
    newest = _aware(newest)
    inc_newest = _aware(inc_newest)
    last = max([t for t in (newest, inc_newest) if t is not None], default=None)
    return _version("bulletins", [incident_id, count, newest, editions, inc_count, inc_newest], last)


def _aware(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def published_answers(session: Session, limit: int, department: Department | None = None) -> list[Question]:
    """Published questions, newest answer first (the answers feed)."""
    stmt = select(Question).where(Question.status == PUBLISHED)
    if department is not None:
        stmt = stmt.where(Question.department_id == department.id)
    return list(session.scalars(stmt.order_by(Question.published_at.desc(), Question.id.desc()).limit(limit)))


def answers_version(session: Session, department: Department | None = None) -> ContentVersion:
    """Version of the published answers (all or one department)."""
    stmt = (
        select(func.count(Question.id), func.max(Question.published_at), func.max(Reply.updated_at))
        .join(Reply, Reply.question_id == Question.id)
        .where(Question.status == PUBLISHED)
    )
    if department is not None:
        stmt = stmt.where(Question.department_id == department.id)
    count, newest, edited = session.execute(stmt).one()
    newest = _aware(newest)
    return _version("answers", [department.id if department else "", count, newest, _aware(edited)], newest)


def updates_answering(session: Session, question_id: int, now: datetime | None = None) -> list[Update]:
    """Visible updates linked to a question (it shows "已由通报答复")."""
    now = now or utcnow()
    stmt = (
        select(Update)
        .join(update_question, update_question.c.update_id == Update.id)
        .where(update_question.c.question_id == question_id, visible_update(now))
        .options(selectinload(Update.incident))
        .order_by(Update.publish_at)
    )
    return list(session.scalars(stmt))


def incident_summary(incident: Incident, base: dict) -> dict:
    """JSON-ready description of an incident (the API); `base` carries the URLs."""
    return {
        "slug": incident.slug,
        "title": incident.title,
        "status": incident.status,
        "status_label": incident.status_label,
        "severity": incident.severity,
        "severity_label": SEVERITIES.get(incident.severity, incident.severity),
        "started_at": incident.started_at.isoformat(),
        "next_update_due_at": incident.next_update_due_at.isoformat() if incident.next_update_due_at else None,
        "pinned": incident.pinned_at is not None,
        "summary_html": incident.summary_html,
        "updated_at": incident.updated_at.isoformat(),
        **base,
    }


def update_json(update: Update, url: str) -> dict:
    """JSON-ready description of one visible update."""
    return {
        "id": update.id,
        "kind": update.kind,
        "title": update.heading,
        "body_html": update.body_html,
        "author": update.author_title,
        "published_at": update.publish_at.isoformat(),
        "updated_at": update.updated_at.isoformat(),
        "edition": update.edition,
        "corrections": [{"edition": e.number, "note": e.change_note, "at": e.created_at.isoformat()}
                        for e in update.corrections],
        "withdrawn_at": update.withdrawn_at.isoformat() if update.withdrawn_at else None,
        "withdrawn_reason": update.withdrawn_reason,
        "press": {
            "at": update.press_at.isoformat() if update.press_at else None,
            "place": update.press_place,
            "livestream_url": update.livestream_url,
        } if update.is_press else None,
        "answers_questions": [q.number for q in update.questions],
        "url": url,
    }
