"""Flask commands for backups: `flask backup` and `flask restore`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.extensions import db
from portal.services.ops.backup import BackupError, backup, default_path, restore, table_digest


def _summary(digest: dict[str, tuple[int, str]]) -> str:
    return "，".join(f"{name} {count} 行" for name, (count, _) in sorted(digest.items()) if count)


@click.command("backup")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: instance/backups/portal-<time>.db or .dump).")
@with_appcontext
def backup_command(output: Path | None) -> None:
    """Back up the database online (SQLite backup API, or pg_dump for PostgreSQL)."""
    target = output or default_path(Path(current_app.instance_path) / "backups", db.engine)
    try:
        backup(db.engine, target)
    except BackupError as exc:
        raise click.ClickException(f"备份失败：{exc}") from exc
    click.echo(f"已备份到 {target}（{target.stat().st_size / 1e6:.1f} MB）：{_summary(table_digest(db.engine))}。")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(source: Path, yes: bool) -> None:
    """Replace the database's content with a backup (stop the web server first)."""
    if not yes:
        click.confirm(f"用 {source} 覆盖当前数据库的全部内容？", abort=True)
    try:
        restore(db.engine, source)
    except BackupError as exc:
        raise click.ClickException(f"恢复失败：{exc}") from exc
    click.echo(f"已从 {source} 恢复：{_summary(table_digest(db.engine))}。请重建搜索索引：flask reindex。")
