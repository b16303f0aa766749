"""Restore drill: back up, change the data and the files, restore, and get exactly the backed-up rows and files."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

from bulletin_helpers import spokesperson
from press_helpers import attachments, new_release, release_row, upload
from sqlalchemy import delete, select
from test_uploads import png_bytes

from portal.extensions import db
from portal.models import Attachment, Question
from portal.services.ops.archive import file_checksums
from portal.services.ops.backup import table_digest
from portal.services.press.demo_press import minimal_pdf
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


def test_backup_takes_the_uploaded_files_and_restore_puts_every_one_back(app, runner, staff, tmp_path):
    client = spokesperson(app)
    _r, rid = new_release(app, client, title="青石镇灾后恢复进展")
    assert upload(client, rid, png_bytes((1600, 900)), "现场.png", "image/png").status_code == 303
    assert upload(client, rid, minimal_pdf("report", [("page", "1")]), "核查报告.pdf", "application/pdf").status_code == 303
    folder = Path(app.config["UPLOAD_DIR"])
    files_before = file_checksums(folder)
    assert len(files_before) == 3  # the image, its phone rendition and the PDF
    with app.app_context():
        rows_before = table_digest(db.engine)
    pdf = next(a for a in attachments(app) if a.mime == "application/pdf")
    pdf_bytes = (folder / pdf.stored_name).read_bytes()

    target = tmp_path / "drill.tar.gz"
    result = runner.invoke(args=["backup", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert "上传文件 3 个" in result.output
    with tarfile.open(target) as tar:
        assert sorted(n for n in tar.getnames() if n.startswith("uploads/")) == sorted(
            f"uploads/{name}" for name in files_before)

    # Damage: one file lost, one overwritten, a stray one added, a row deleted.
    names = sorted(files_before)
    (folder / names[0]).unlink()
    (folder / names[1]).write_bytes(b"overwritten")
    (folder / "0123456789abcdef0123456789abcdef.pdf").write_bytes(b"%PDF-1.4 stray")
    with app.app_context():
        db.session.execute(delete(Attachment).where(Attachment.id == pdf.id))
        db.session.commit()
        db.session.remove()

    result = runner.invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert "上传文件 3 个" in result.output
    assert file_checksums(folder) == files_before
    with app.app_context():
        assert table_digest(db.engine) == rows_before
    # The restored release serves the restored file, byte for byte.
    public = app.test_client()
    page = public.get(f"/news/{release_row(app, rid).slug}").get_data(as_text=True)
    link = re.search(rf'href="(/attachments/{pdf.id}/[^"]+)"', page).group(1)
    served = public.get(link)
    assert served.status_code == 200 and served.data == pdf_bytes


def test_restore_refuses_a_damaged_archive_and_changes_nothing(app, runner, staff, tmp_path):
    client = spokesperson(app)
    _r, rid = new_release(app, client)
    assert upload(client, rid, minimal_pdf("t", []), "报告.pdf", "application/pdf").status_code == 303
    folder = Path(app.config["UPLOAD_DIR"])
    target = tmp_path / "drill.tar.gz"
    assert runner.invoke(args=["backup", "--output", str(target)]).exit_code == 0
    files_before = file_checksums(folder)
    # A member whose bytes no longer match the manifest.
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(target) as src, tarfile.open(damaged, "w:gz") as out:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name.startswith("uploads/"):
                data = data[:-1] + b"X"
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    (folder / sorted(files_before)[0]).write_bytes(b"changed after the backup")
    changed = file_checksums(folder)
    result = runner.invoke(args=["restore", str(damaged), "--yes"])
    assert result.exit_code != 0 and "恢复失败" in result.output and "checksum" in result.output
    assert file_checksums(folder) == changed
