"""Citizens report published items; after enough distinct reports an item is hidden pending the office's review."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.errors import InvalidTransition, ValidationFailed
from portal.models import Question
from portal.models.question import PUBLISHED
from portal.models.report import REPORT_REASONS, Report
from portal.search.indexer import enqueue as enqueue_for_search
from portal.services import audit
from portal.timeutil import utcnow

HIDDEN_BY_REPORTS = "网友举报待审核"


def report_question(session: Session, question: Question, fingerprints: tuple[str, ...], reason: str,
                    threshold: int) -> bool:
    """Record one client's report; returns True when this report hid the item (pending review)."""
    if reason not in REPORT_REASONS:
        raise ValidationFailed({"reason": "请选择举报理由。"})
    if question.status != PUBLISHED or question.hidden_at is not None:
        raise InvalidTransition("这条留言目前不在公开状态。")
    already = session.scalar(
        select(func.count(Report.id)).where(Report.question_id == question.id, Report.fingerprint.in_(fingerprints))
    )
    if already:
        raise InvalidTransition("您已举报过这条留言，工作人员会尽快审核。")
    session.add(Report(question_id=question.id, fingerprint=fingerprints[0], reason=reason, created_at=utcnow()))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise InvalidTransition("您已举报过这条留言，工作人员会尽快审核。") from None
    count = session.scalar(select(func.count(Report.id)).where(Report.question_id == question.id)) or 0
    audit.record(session, None, "question.reported", "question", question.id, reason=reason, reports=count)
    hidden = count >= threshold
    if hidden:
        question.hidden_at = utcnow()
        question.hidden_reason = f"{HIDDEN_BY_REPORTS}（{count} 次举报）"
        audit.record(session, None, "question.hidden_by_reports", "question", question.id, reports=count)
        enqueue_for_search(session, question.id)
    session.commit()
    return hidden


def reported_items(session: Session) -> list[tuple[Question, int]]:
    """Questions with reports, hidden ones first: the office's review list."""
    rows = session.execute(
        select(Question, func.count(Report.id))
        .join(Report, Report.question_id == Question.id)
        .group_by(Question.id)
        .order_by(Question.hidden_at.is_(None), func.count(Report.id).desc())
    ).all()
    return [(q, n) for q, n in rows]
