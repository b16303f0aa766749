"""Flask commands for backups: `flask backup` and `flask restore` (the database and the uploaded files)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.extensions import db
from portal.services.ops import archive
from portal.services.ops.backup import BackupError, restore, table_digest


def _summary(tables: dict[str, int]) -> str:
    return "，".join(f"{name} {count} 行" for name, count in sorted(tables.items()) if count)


def _counts() -> dict[str, int]:
    return {name: count for name, (count, _) in table_digest(db.engine).items()}


@click.command("backup")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Archive to write (default: instance/backups/portal-<time>.tar.gz).")
@with_appcontext
def backup_command(output: Path | None) -> None:
    """Back up the database online (SQLite backup API, or pg_dump) and every uploaded file, into one archive."""
    target = output or archive.default_path(Path(current_app.instance_path) / "backups")
    try:
        done = archive.create(db.engine, Path(current_app.config["UPLOAD_DIR"]), target)
    except BackupError as exc:
        raise click.ClickException(f"备份失败：{exc}") from exc
    click.echo(f"已备份到 {target}（{target.stat().st_size / 1e6:.1f} MB）：{_summary(done.tables)}；"
               f"上传文件 {done.files} 个（{done.file_bytes / 1e6:.1f} MB）。")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(source: Path, yes: bool) -> None:
    """Put back the database and the uploaded files from a backup archive (stop the web server first)."""
    if not yes:
        click.confirm(f"用 {source} 覆盖当前数据库和上传文件的全部内容？", abort=True)
    uploads = Path(current_app.config["UPLOAD_DIR"])
    try:
        if archive.is_archive(source):
            done = archive.restore_archive(db.engine, uploads, source)
            files = f"；上传文件 {done.files} 个"
        else:
            restore(db.engine, source)  # an old backup of the database alone
            files = "；这是只含数据库的旧备份，上传文件未改动"
    except BackupError as exc:
        raise click.ClickException(f"恢复失败：{exc}") from exc
    click.echo(f"已从 {source} 恢复：{_summary(_counts())}{files}。请重建搜索索引：flask reindex。")
