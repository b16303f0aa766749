"""Helpers for the review and handling-in-steps tests: browsers signed in as each role, and the usual steps
taken through the real console and /track forms."""

from __future__ import annotations

from conftest import AuthActions, ask_and_get_code, csrf_token
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEntry, Question

REPLY = "网友您好：经核实，解放路路灯已于今日修复，感谢您对我们工作的关注和支持。"


def signed_in(app, username: str):
    """A fresh browser signed in as `username` through the real form."""
    client = app.test_client()
    assert AuthActions(client).login(username).status_code == 303
    return client


def question_id(app, number: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Question.id).where(Question.number == number))


def post(client, qid: int, action: str, **data):
    """POST a question-page form with the page's CSRF token."""
    token = csrf_token(client, f"/staff/questions/{qid}")
    return client.post(f"/staff/questions/{qid}/{action}", data={"csrf_token": token, **data})


def asked_and_routed(app, staff, co: list[int] | None = None, **fields) -> tuple[str, str, int]:
    """A citizen asks; the office routes it to 交通 (with co-departments); returns (number, code, id)."""
    number, code = ask_and_get_code(app.test_client(), **fields)
    qid = question_id(app, number)
    office = signed_in(app, "office")
    data = {"department": str(staff.roads), "note": ""}
    if co:
        data["co_departments"] = [str(d) for d in co]
    assert post(office, qid, "route", **data).status_code == 303
    return number, code, qid


def published(app, staff, **fields) -> tuple[str, str, int]:
    """Asked, routed, answered by 交通, submitted for review and published by the office."""
    number, code, qid = asked_and_routed(app, staff, **fields)
    responder = signed_in(app, "responder")
    assert post(responder, qid, "reply", body=REPLY, submit_review="提交审核").status_code == 303
    assert post(signed_in(app, "office"), qid, "publish").status_code == 303
    return number, code, qid


def track(client, number: str, code: str) -> str:
    """The /track page for the question, as the citizen sees it (this browser then may rate and follow up)."""
    token = csrf_token(client, "/track")
    response = client.post("/track", data={"number": number, "code": code, "csrf_token": token})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def actions(app, qid: int) -> list[str]:
    """The audit actions recorded on the question, in order."""
    with app.app_context():
        return list(db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.subject_type == "question", AuditEntry.subject_id == qid)
            .order_by(AuditEntry.id)
        ))


def pending_step_id(app, qid: int) -> int:
    """The id of the interim or supplementary reply waiting for the office's review."""
    from portal.models import QuestionStep

    with app.app_context():
        step_id = db.session.scalar(select(QuestionStep.id).where(
            QuestionStep.question_id == qid, QuestionStep.published_at.is_(None), QuestionStep.review_note.is_(None)
        ))
    assert step_id is not None, "no step waits for review"
    return step_id


def office_publishes_step(app, qid: int) -> None:
    """The office approves the responder's pending interim or supplementary reply."""
    office = signed_in(app, "office")
    response = post(office, qid, "steps/review", step=str(pending_step_id(app, qid)), publish_step="通过并公开")
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
