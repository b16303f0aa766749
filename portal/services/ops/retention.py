"""Retention: contact details are anonymised a set number of days after a question is closed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Question
from portal.services import audit
from portal.timeutil import utcnow


def purge_contacts(session: Session, days: int) -> int:
    """Clear the contact field of questions closed more than `days` days ago; returns how many."""
    cutoff = utcnow() - timedelta(days=days)
    rows = session.scalars(
        select(Question).where(Question.contact.is_not(None), Question.closed_at.is_not(None),
                               Question.closed_at < cutoff)
    ).all()
    for question in rows:
        question.contact = None
    if rows:
        audit.record(session, None, "contacts.purged", "question", None, count=len(rows), days=days)
    session.commit()
    return len(rows)
