"""`flask watch ...`: import sources and plans, run a fetch cycle in the foreground, export items."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from portal.errors import ValidationFailed
from portal.extensions import db
from portal.services.watch import alerts, plans, sources
from portal.services.watch.capture import run_due_captures
from portal.services.watch.cycle import run_due_fetches
from portal.services.watch.export import jsonl_lines
from portal.services.watch.settings import from_config
from portal.timeutil import utcnow

watch_group = AppGroup("watch", help="Watching other platforms (舆情监测).")


def _fail(exc: ValidationFailed) -> None:
    db.session.rollback()
    for message in exc.reasons.values():
        click.echo(f"错误：{message}", err=True)
    raise SystemExit(2)


@watch_group.command("import-sources")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_sources_command(file: Path) -> None:
    """Add or update sources from an OPML file (pw: attributes for platform, region, department)."""
    try:
        created, updated, problems = sources.import_opml(db.session, None, file.read_bytes(),
                                                         from_config(current_app.config))
    except ValidationFailed as exc:
        _fail(exc)
    click.echo(f"信息源：新增 {created} 个，更新 {updated} 个。")
    for problem in problems:
        click.echo(f"  注意：{problem}")


@watch_group.command("export-sources")
def export_sources_command() -> None:
    """Print every source as OPML."""
    sys.stdout.write(sources.export_opml(db.session, current_app.config["SITE_NAME"] + " 舆情监测信息源").decode())


@watch_group.command("import-plans")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_plans_command(file: Path) -> None:
    """Add or update (by name) watch plans from a JSON array."""
    try:
        created, updated, problems = plans.import_plans(db.session, None, file.read_bytes(), utcnow())
    except ValidationFailed as exc:
        _fail(exc)
    click.echo(f"监测方案：新增 {created} 个，更新 {updated} 个。")
    for problem in problems:
        click.echo(f"  未导入：{problem}")


@watch_group.command("fetch")
@click.option("--once", "mode", flag_value="once", default=True, help="One cycle over the due sources (default).")
@click.option("--all", "mode", flag_value="all", help="One cycle over every source, due or not.")
@click.option("--no-alerts", is_flag=True, help="Do not send the alerts this cycle produced.")
def fetch_command(mode: str, no_alerts: bool) -> None:
    """Run one fetch cycle in the foreground, send the alerts it produced, and print a summary."""
    settings = from_config(current_app.config)
    started = time.perf_counter()
    now = utcnow()
    summary = run_due_fetches(db.session, now, settings, everything=(mode == "all"))
    pasted = run_due_captures(db.session, utcnow(), settings)
    sent = 0 if no_alerts else alerts.send_due_alerts(db.session, utcnow(), settings)
    click.echo(
        f"抓取完成：成功 {summary.fetched} 个，未变化 {summary.not_modified} 个，失败 {summary.failed} 个；"
        f"新信息 {summary.new_items} 条，命中方案 {summary.matches} 次，发出预警 {sent} 条；"
        f"用时 {time.perf_counter() - started:.1f} 秒。"
    )
    for error in summary.errors:
        click.echo(f"  失败：{error}")
    if pasted.done or pasted.retrying or pasted.failed:
        click.echo(f"人工发现的网页：抓取 {pasted.done} 个（新信息 {pasted.new_items} 条），"
                   f"稍后重试 {pasted.retrying} 个，失败 {pasted.failed} 个。")


@watch_group.command("digest")
def digest_command() -> None:
    """Queue the digests that are due and send the queued alerts (what the worker does at patrol times)."""
    settings = from_config(current_app.config)
    queued = alerts.send_digests(db.session, utcnow(), settings)
    sent = alerts.send_due_alerts(db.session, utcnow(), settings)
    click.echo(f"摘要：生成 {queued} 份，发出 {sent} 条。")


@watch_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
def export_command(fmt: str) -> None:
    """Print the watched items, one JSON object a line."""
    for line in jsonl_lines(db.session):
        click.echo(line)
