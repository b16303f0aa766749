"""Helpers for the desk tests: questions made directly in the database with known times."""

from __future__ import annotations

from datetime import datetime

from portal.extensions import db
from portal.markup import render_markdown
from portal.models import Question, Reply
from portal.timeutil import BEIJING


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


def make_question(app, n: int, received: datetime, department_id: int | None, *, replied: datetime | None = None,
                  due: datetime | None = None, rating: str | None = None, category: str = "咨询",
                  title: str | None = None) -> int:
    """A question received at `received`, published at `replied` when given; returns its id."""
    with app.app_context():
        q = Question(
            number=f"{received:%Y%m%d}{n:05d}", title=title or f"测试留言第{n}条标题", body="留言内容" * 5,
            category=category, department_id=department_id, status="published" if replied else "routed",
            received_at=received, due_at=due, routed_at=received, rating=rating,
        )
        db.session.add(q)
        db.session.flush()
        if replied:
            q.answered_at = q.published_at = q.closed_at = replied
            db.session.add(Reply(question=q, department_id=department_id, body_md="网友您好：已办理。",
                                 body_html=render_markdown("网友您好：已办理。"), published_at=replied))
        db.session.commit()
        return q.id
