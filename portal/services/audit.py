"""Writing audit entries in the caller's transaction."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from portal.models import AuditEntry, StaffUser
from portal.timeutil import utcnow


def record(
    session: Session,
    actor: StaffUser | None,
    action: str,
    subject_type: str,
    subject_id: int | None,
    **detail: Any,
) -> AuditEntry:
    """Add an audit row to the session; it commits (or rolls back) with the change it describes."""
    entry = AuditEntry(
        at=utcnow(),
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "",
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else "",
    )
    session.add(entry)
    return entry
