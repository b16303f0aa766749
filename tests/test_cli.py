"""Command line: init-db, seed-demo, create-user, import-questions (idempotent), purge-contacts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Department, Question, StaffUser

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("PORTAL_CORPUS_DIR", ROOT.parent / "shared" / "corpus"))


def _count(app, model=Question, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_seed_demo_loads_departments_accounts_and_questions(app, runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    out = result.output
    for username in ("admin", "office", "responder", "spokesperson"):
        assert username in out
    assert out.count("密码：") == 4
    assert _count(app, Department) >= 8
    published = _count(app, Question, Question.status == "published")
    assert published >= 20
    assert _count(app, Question) > published  # some wait in the queues
    # Running it again adds nothing and prints no new passwords.
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and "密码：" not in again.output
    assert _count(app, Question, Question.status == "published") == published
    skipped = runner.invoke(args=["seed-demo", "--if-empty"])
    assert "跳过" in skipped.output


def test_create_user_reads_password_from_stdin(app, runner, staff):
    result = runner.invoke(
        args=["create-user", "liwei", "--role", "responder", "--department", "jtj"], input="a-long-password-123\n"
    )
    assert result.exit_code == 0, result.output
    client = app.test_client()
    from tests.conftest import AuthActions

    r = AuthActions(client).login("liwei", "a-long-password-123")
    assert r.status_code == 303
    bad = runner.invoke(args=["create-user", "x", "--role", "responder"], input="short\n")
    assert bad.exit_code == 2 and "部门答复人必须属于一个部门" in bad.output and "用户名为" in bad.output


def _write(tmp_path: Path, rows: list) -> Path:
    path = tmp_path / "in.jsonl"
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_questions_idempotent_with_invalid_lines_reported(app, runner, staff, tmp_path):
    good = {
        "external_id": "x-1",
        "title": "河道有人倾倒垃圾",
        "body": "北河桥下经常有人倾倒建筑垃圾。",
        "asked_at": "2025-03-02 09:30:00",
        "department": "测试县交通运输局",
        "category": "投诉",
        "reply": "网友您好：已安排清理。",
        "replied_at": "2025-03-03T10:00:00+08:00",
    }
    waiting = {**good, "external_id": "x-2", "reply": "", "replied_at": "", "department": "", "category": ""}
    path = _write(
        tmp_path,
        [
            good,
            waiting,
            "{not json",
            {**good, "external_id": "x-3", "asked_at": "yesterday"},
            {**good, "external_id": "x-4", "department": "不存在的局"},
            {**good, "external_id": ""},
            {**good, "external_id": "x-5", "category": "闲聊"},
        ],
    )
    result = runner.invoke(args=["import-questions", str(path)])
    assert result.exit_code == 0, result.output
    assert "导入 2 条" in result.output and "无效 5 条" in result.output
    for lineno in (3, 4, 5, 6, 7):
        assert f"第 {lineno} 行" in result.output
    again = runner.invoke(args=["import-questions", str(path)])
    assert "导入 0 条" in again.output and "跳过（已存在）2 条" in again.output
    assert _count(app) == 2
    with app.app_context():
        q = db.session.scalar(select(Question).where(Question.external_id == "x-1"))
        assert q.status == "published" and q.reply.published_at.isoformat() == "2025-03-03T02:00:00+00:00"
        assert q.received_at.isoformat() == "2025-03-02T01:30:00+00:00"
        w = db.session.scalar(select(Question).where(Question.external_id == "x-2"))
        assert w.status == "received" and w.department_id is None and w.category is None
    client = app.test_client()
    assert "河道有人倾倒垃圾" in client.get("/questions?month=2025-03").get_data(as_text=True)


def test_purge_contacts_after_retention(app, runner, staff):
    from datetime import timedelta

    from portal.timeutil import utcnow

    with app.app_context():
        now = utcnow()
        for i, closed in enumerate([now - timedelta(days=200), now - timedelta(days=10), None]):
            db.session.add(
                Question(
                    number=f"9{i}",
                    title="t" * 6,
                    body="b" * 12,
                    status="published",
                    contact="13800000000",
                    closed_at=closed,
                    received_at=now,
                )
            )
        db.session.commit()
    result = runner.invoke(args=["purge-contacts", "--days", "180"])
    assert "已清除 1 条" in result.output
    with app.app_context():
        left = db.session.scalars(select(Question.contact).order_by(Question.number)).all()
    assert left == [None, "13800000000", "13800000000"]


def test_real_corpus_converts_and_imports_twice(app, runner, tmp_path):
    if not (CORPUS / "teddy2020C_fj4_replies_full.jsonl").exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"corpus not found at {CORPUS} (CI=true)")
        pytest.skip(f"real corpus not found at {CORPUS}")
    out = tmp_path / "corpus.jsonl"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "corpus_to_jsonl.py"), "--corpus", str(CORPUS), "--output", str(out)],
        check=True,
        capture_output=True,
    )
    first = runner.invoke(args=["import-questions", str(out)])
    assert "导入 2816 条" in first.output and "无效 0 条" in first.output, first.output[-2000:]
    second = runner.invoke(args=["import-questions", str(out)])
    assert "导入 0 条" in second.output and "跳过（已存在）2816 条" in second.output
    assert _count(app, Question, Question.status == "published") == 2816
    client = app.test_client()
    board = client.get("/questions")
    assert board.status_code == 200 and "共 2816 条" in board.get_data(as_text=True)
    last = client.get("/questions?page=141")
    assert last.status_code == 200
    with app.app_context():
        number = db.session.scalar(select(Question.number).limit(1))
    assert client.get(f"/questions/{number}").status_code == 200


def test_init_db_and_users_table_exists(runner, app):
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0 and "数据库已就绪" in result.output
    assert _count(app, StaffUser) == 0


def test_reindex_shows_progress_and_the_count(app, runner):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    published = _count(app, Question, Question.status == "published")
    result = runner.invoke(args=["reindex"])
    assert result.exit_code == 0, result.output
    # click's progress bar goes to stderr (shown on a terminal); the summary line carries the count.
    assert f"已重建搜索索引：{published} 条" in result.output
