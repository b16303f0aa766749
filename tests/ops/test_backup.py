"""Restore drill: back up, change the data, restore, and get exactly the backed-up rows back."""

from __future__ import annotations

from sqlalchemy import delete, select

from portal.extensions import db
from portal.models import Question
from portal.services.ops.backup import table_digest
from tests.conftest import ask_and_get_code


def test_backup_then_restore_gives_back_the_same_rows(app, client, runner, staff, tmp_path):
    for i in range(3):
        ask_and_get_code(client, title=f"备份演练留言标题{i}", body=f"这是第{i}条用于备份恢复演练的留言内容。")
    with app.app_context():
        before = table_digest(db.engine)
    target = tmp_path / "drill.backup"
    result = runner.invoke(args=["backup", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert target.is_file() and "已备份到" in result.output and "question 3 行" in result.output

    # Damage: a question deleted, another added.
    with app.app_context():
        db.session.execute(delete(Question).where(Question.title == "备份演练留言标题1"))
        db.session.commit()
    ask_and_get_code(client, title="备份之后新增的留言", body="这条留言在备份之后提交，恢复后应当不存在。")
    with app.app_context():
        assert table_digest(db.engine) != before
        db.session.remove()

    result = runner.invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        after = table_digest(db.engine)
        titles = sorted(db.session.scalars(select(Question.title)))
    assert after == before
    assert titles == ["备份演练留言标题0", "备份演练留言标题1", "备份演练留言标题2"]
    assert client.get("/").status_code == 200


def test_restore_refuses_a_damaged_file(app, runner, tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database")
    result = runner.invoke(args=["restore", str(bad), "--yes"])
    assert result.exit_code != 0 and "恢复失败" in result.output
    with app.app_context():
        assert db.session.scalar(select(Question.id).limit(1)) is None  # the live database is untouched and usable
