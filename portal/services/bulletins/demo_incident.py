"""Load the demo incident from content/demo/incident.json (idempotent on external_id)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Incident, Question, StaffUser, Update, UpdateEdition
from portal.models.question import PUBLISHED
from portal.services import audit
from portal.services.bulletins.publishing import IncidentInput, create_incident
from portal.timeutil import parse_local, utcnow


def load_demo_incident(session: Session, path: Path, actor: StaffUser) -> Incident | None:
    """Create the demo incident with its dated timeline, a press notice, a correction and a linked question.

    The demo's times are historical, so updates are written directly with their original times (the console
    refuses times in the past by design); every row still gets its audit entry. Returns None if already loaded.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    if session.scalar(select(Incident.id).where(Incident.external_id == data["external_id"])) is not None:
        return None
    incident = create_incident(session, actor, IncidentInput(
        title=data["title"], severity=data["severity"], started_at=data["started_at"], summary=data["summary"],
        slug=data["slug"], status=data["status"], external_id=data["external_id"],
    ))
    question = None
    if data.get("answers_question_external_id"):
        question = session.scalar(select(Question).where(
            Question.external_id == data["answers_question_external_id"], Question.status == PUBLISHED))
    from portal.markup import render_markdown

    for item in data["updates"]:
        at = parse_local(item["at"])
        html = render_markdown(item["body"])
        update = Update(
            incident=incident, kind=item.get("kind", "update"), title=item["title"], body_md=item["body"],
            body_html=html, author_id=actor.id, author_title="云溪县人民政府新闻办公室", created_at=at, publish_at=at,
            updated_at=at, edition=1, press_at=parse_local(item["press_at"]) if item.get("press_at") else None,
            press_place=item.get("press_place"), livestream_url=item.get("livestream_url"), notified_at=at,
        )
        session.add(update)
        session.flush()
        session.add(UpdateEdition(update_id=update.id, number=1, title=item["title"], body_md=item["body"],
                                  body_html=html, author_id=actor.id, created_at=at))
        audit.record(session, actor, "update.published", "update", update.id, incident=incident.slug, demo=True)
        if question is not None and item.get("kind", "update") == "update" and not update.questions:
            if "老街积水" in item["body"]:
                update.questions = [question]
        fix = item.get("correction")
        if fix:
            fixed_at = parse_local(fix["at"])
            fixed_html = render_markdown(fix["body"])
            update.edition = 2
            session.add(UpdateEdition(update_id=update.id, number=2, title=item["title"], body_md=fix["body"],
                                      body_html=fixed_html, change_note=fix["note"], author_id=actor.id,
                                      created_at=fixed_at))
            update.body_md, update.body_html, update.updated_at = fix["body"], fixed_html, fixed_at
            audit.record(session, actor, "update.corrected", "update", update.id, edition=2, demo=True)
    now = utcnow()
    incident.next_update_due_at = now + timedelta(hours=int(data.get("next_update_due_at_offset_hours", 6)))
    if data.get("pin"):
        incident.pinned_at = now
        audit.record(session, actor, "incident.pinned", "incident", incident.id, demo=True)
    incident.updated_at = now
    session.commit()
    return incident
