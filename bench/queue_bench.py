"""Responder queue benchmark: the queue with co-departments (协办) and reopened questions, against the plain
own-department query it replaced, on the same generated database in the same run.

Usage: python bench/queue_bench.py [--questions 50000] [--runs 50] [--database-url URL]
(default: a temporary SQLite file). Prints p50/p95 milliseconds per queue query and their ratio.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STATUSES = ["published"] * 14 + ["routed", "answered", "review", "rejected", "received"]


def _timed(fn, runs: int) -> tuple[float, float, int]:
    times, count = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        count = len(fn())
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from portal import create_app
    from portal.extensions import db
    from portal.models import Department, Question, StaffUser
    from portal.models.desk import question_codepartment
    from portal.models.question import ANSWERED, ROUTED
    from portal.services.board.listing import staff_queue

    tmp = Path(tempfile.mkdtemp(prefix="queue-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'portal.db'}"
    app = create_app({"TESTING": True, "SECRET_KEY": "bench-secret-key-0123456789", "SQLALCHEMY_DATABASE_URI": url,
                      "SEARCH_INDEXER_THREAD": False, "SEARCH_INDEX_DIR": str(tmp / "idx")})
    rng = random.Random(16)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        depts = [Department(name=f"部门{i}", slug=f"d{i}") for i in range(12)]
        db.session.add_all(depts)
        db.session.flush()
        user = StaffUser(username="bench", password_hash="x", role="responder", department_id=depts[3].id,
                         display_name="bench")
        db.session.add(user)
        db.session.commit()
        start = datetime(2025, 1, 1, tzinfo=UTC)
        rows, co_rows = [], []
        for i in range(args.questions):
            status = rng.choice(STATUSES)
            received = start + timedelta(minutes=15 * i)
            rows.append(dict(
                id=i + 1, number=f"2025{i:09d}", title=f"留言{i}", body="内容" * 20, category="咨询",
                department_id=None if status == "received" else rng.choice(depts).id, status=status,
                received_at=received, due_at=received + timedelta(hours=20), updated_at=received,
                reopen_kind="followup" if status == "published" and rng.random() < 0.01 else None,
            ))
            if status != "received" and rng.random() < 0.1:
                co_rows.append({"question_id": i + 1, "department_id": rng.choice(depts).id})
        db.session.execute(insert(Question.__table__), rows)
        seen = set()
        co_rows = [r for r in co_rows if (key := (r["question_id"], r["department_id"])) not in seen
                   and not seen.add(key)]
        if co_rows:
            db.session.execute(insert(question_codepartment), co_rows)
        db.session.commit()
        user = db.session.get(StaffUser, user.id)

        def baseline():
            return list(db.session.scalars(
                select(Question)
                .where(Question.department_id == user.department_id, Question.status.in_((ROUTED, ANSWERED)))
                .order_by(Question.due_at.is_(None), Question.due_at, Question.id).limit(200)
            ))

        def current():
            return staff_queue(db.session, user)

        baseline(), current()  # warm the page cache
        base_p50, base_p95, base_n = _timed(baseline, args.runs)
        cur_p50, cur_p95, cur_n = _timed(current, args.runs)
    print(f"database: {url.split(':', 1)[0]}; questions: {args.questions}; co-department links: {len(co_rows)}; "
          f"runs: {args.runs}")
    print(f"baseline (own department, routed/answered): p50 {base_p50:.2f} ms, p95 {base_p95:.2f} ms, {base_n} rows")
    print(f"queue (+ review, reopened, co-departments): p50 {cur_p50:.2f} ms, p95 {cur_p95:.2f} ms, {cur_n} rows")
    print(f"ratio p50 queue/baseline: {cur_p50 / base_p50:.2f}x")


if __name__ == "__main__":
    main()
