"""Flask commands: init-db, seed-demo, create-user, import-questions, purge-contacts, worker, send-due-notifications."""

from __future__ import annotations

import json
import secrets
import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import func, select

from portal.errors import ValidationFailed
from portal.extensions import db
from portal.models import Department, Question, StaffUser
from portal.models.staff import ROLE_ADMIN, ROLE_OFFICE, ROLE_RESPONDER, ROLE_SPOKESPERSON, ROLES
from portal.services.accounts import signin
from portal.services.board import questions
from portal.services.board.importer import import_lines, read_department_map
from portal.services.clock import rule_from_config
from portal.services.ops.retention import purge_contacts

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"


def register(app: Flask) -> None:
    """Attach the commands to the app's CLI."""
    for command in (init_db, seed_demo, create_user, import_questions, purge_contacts_command, reindex,
                    index_worker, notify_overdue_command):
        app.cli.add_command(command)
    from portal.cli_accounts import totp_keys
    from portal.cli_backup import backup_command, restore_command
    from portal.cli_bulletins import page_tree, send_due_notifications, worker
    from portal.cli_departments import departments_group
    from portal.cli_watch import watch_group

    for command in (send_due_notifications, worker, page_tree, backup_command, restore_command, watch_group, totp_keys,
                    departments_group):
        app.cli.add_command(command)


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create or migrate the database to the latest schema."""
    upgrade(directory=current_app.extensions["migrate"].directory)
    click.echo("数据库已就绪（已迁移到最新版本）。")


def _load_departments(path: Path) -> int:
    created = 0
    for item in json.loads(path.read_text(encoding="utf-8")):
        if db.session.scalar(select(Department).where(Department.slug == item["slug"])) is None:
            db.session.add(Department(name=item["name"], slug=item["slug"], description=item.get("description", "")))
            created += 1
    db.session.commit()
    return created


@click.command("seed-demo")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has questions.")
def seed_demo(if_empty: bool) -> None:
    """Load content/demo: departments, one account per role (passwords printed once), questions and replies."""
    if if_empty and db.session.scalar(select(func.count(Question.id))):
        click.echo("数据库已有内容，跳过演示数据。")
        return
    demo = Path(current_app.config.get("CONTENT_DIR") or CONTENT_DIR) / "demo"
    created = _load_departments(demo / "departments.json")
    click.echo(f"部门：新建 {created} 个。")
    depts = list(db.session.scalars(select(Department).order_by(Department.id)))
    office_dept = next((d for d in depts if d.slug == "office"), None)
    responder_dept = next((d for d in depts if d.slug != "office"), None)
    plan = [
        ("admin", ROLE_ADMIN, None),
        ("office", ROLE_OFFICE, office_dept.name if office_dept else None),
        ("responder", ROLE_RESPONDER, responder_dept.name if responder_dept else None),
        ("spokesperson", ROLE_SPOKESPERSON, office_dept.name if office_dept else None),
    ]
    printed = []
    for username, role, dept in plan:
        if db.session.scalar(select(StaffUser).where(StaffUser.username == username)):
            continue
        password = secrets.token_urlsafe(12)
        signin.create_user(db.session, username, password, role, dept, display_name=ROLES[role])
        printed.append((username, role, dept or "", password))
    with (demo / "questions.jsonl").open(encoding="utf-8") as fh:
        result = import_lines(db.session, fh, rule_from_config(current_app.config), source="demo")
    click.echo(f"演示留言：导入 {result.imported} 条，跳过 {result.skipped} 条，无效 {len(result.invalid)} 条。")
    office = db.session.scalar(select(StaffUser).where(StaffUser.role == ROLE_OFFICE))
    if office is not None and result.imported:
        waiting = db.session.scalars(
            select(Question).where(Question.status == "received", Question.department_id.is_not(None))
        ).all()
        for q in waiting:
            questions.route_question(db.session, office, q, q.department_id, "演示数据：按网友所选部门转交")
    from portal.cli_bulletins import seed_demo_incident, seed_demo_press

    seed_demo_incident(demo / "incident.json")
    seed_demo_press(demo / "press.json")
    if printed:
        click.echo("\n演示账号（密码只显示这一次，请妥善保存）：")
        for username, role, dept, password in printed:
            click.echo(f"  {username:<13} {ROLES[role]:<6} {dept:<16} 密码：{password}")


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(sorted(ROLES)))
@click.option("--department", default=None, help="Department name or slug (required for responders).")
@click.option("--display-name", default="", help="Name shown in the console.")
def create_user(username: str, role: str, department: str | None, display_name: str) -> None:
    """Create a staff account; the password is read from stdin when it is not a terminal."""
    if sys.stdin.isatty():
        password = click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        user = signin.create_user(db.session, username, password, role, department, display_name)
    except ValidationFailed as exc:
        db.session.rollback()
        for message in exc.reasons.values():
            click.echo(f"错误：{message}", err=True)
        raise SystemExit(2) from None
    click.echo(f"已创建账号 {user.username}（{ROLES[user.role]}）。")


@click.command("import-questions")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--map", "map_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CSV of 'unknown department,department name or slug' (empty target: the office routes it).")
def import_questions(file: Path, map_file: Path | None) -> None:
    """Import questions from JSON Lines; idempotent on external_id. Lines are read as bytes and decoded one by
    one, so a line that is not UTF-8 is reported by number and the others are imported."""
    mapping = None
    if map_file is not None:
        try:
            with map_file.open(encoding="utf-8-sig", newline="") as fh:
                mapping = read_department_map(db.session, fh)
        except ValidationFailed as exc:
            raise click.ClickException(f"部门对照文件有误：{exc.reasons['map']}") from exc
    started = time.perf_counter()
    with file.open("rb") as counting:
        total = sum(1 for _ in counting)
    with (
        file.open("rb") as fh,
        click.progressbar(length=total, label="导入中", file=sys.stderr) as bar,
    ):
        done = [0]

        def progress(lineno: int) -> None:
            bar.update(lineno - done[0])
            done[0] = lineno

        result = import_lines(db.session, fh, rule_from_config(current_app.config), progress, source=file.name,
                              department_map=mapping)
    elapsed = time.perf_counter() - started
    click.echo(
        f"导入 {result.imported} 条，跳过（已存在）{result.skipped} 条，无效 {len(result.invalid)} 条，"
        f"用时 {elapsed:.1f} 秒。"
    )
    if result.history:
        click.echo(f"其中 {result.history} 条未答复且导入时已过答复时限，作为历史记录导入：不计时，不发超时提醒。")
    for lineno, reason in result.invalid[:200]:
        click.echo(f"  第 {lineno} 行：{reason}")
    if len(result.invalid) > 200:
        click.echo(f"  ……另有 {len(result.invalid) - 200} 行无效。")
    if result.unknown_departments:
        click.echo("未知部门（写进 --map 对照文件后重新导入，已导入的行会跳过）：")
        for name, lines in sorted(result.unknown_departments.items()):
            shown = "、".join(str(n) for n in lines[:20]) + ("……" if len(lines) > 20 else "")
            click.echo(f"  {name}：{len(lines)} 行（第 {shown} 行）")


@click.command("purge-contacts")
@with_appcontext
@click.option("--days", type=int, default=None, help="Override PORTAL_CONTACT_RETENTION_DAYS.")
def purge_contacts_command(days: int | None) -> None:
    """Anonymise contact details of questions closed more than N days ago."""
    keep = days if days is not None else int(current_app.config["CONTACT_RETENTION_DAYS"])
    count = purge_contacts(db.session, keep)
    click.echo(f"已清除 {count} 条留言的联系方式（办结超过 {keep} 天）。")


@click.command("reindex")
@with_appcontext
def reindex() -> None:
    """Rebuild the search index from the database into a new directory and swap it in atomically."""
    from portal.search import backend
    from portal.search.indexer import count_public, drain, rebuild

    started = time.perf_counter()
    root = current_app.config["SEARCH_INDEX_DIR"]
    click.echo(f"正在重建搜索索引（{backend().name}）……", err=True)
    with click.progressbar(length=count_public(db.session), label="索引中", file=sys.stderr) as bar:
        done = [0]

        def progress(n: int) -> None:
            bar.update(n - done[0])
            done[0] = n

        count = rebuild(db.session, backend(), root, progress)
    drained = drain(db.session, backend(), root)
    elapsed = time.perf_counter() - started
    click.echo(f"已重建搜索索引：{count} 条，用时 {elapsed:.1f} 秒（{count / max(elapsed, 1e-9):.0f} 条/秒）；"
               f"补写 {drained} 条变更。")


@click.command("index-worker")
@click.option("--once", is_flag=True, help="Drain the outbox once and exit.")
@with_appcontext
def index_worker(once: bool) -> None:
    """Run the search indexer in the foreground (instead of, or beside, the web workers' threads)."""
    from portal.search import backend
    from portal.search.indexer import POLL_SECONDS, drain, rebuild_if_missing, rebuild_if_stale

    root = current_app.config["SEARCH_INDEX_DIR"]
    if backend().ready() and (reason := backend().stale()):
        click.echo(f"{reason}。正在重建……")
        count = rebuild_if_stale(db.session, backend(), root)
        if count is not None:
            click.echo(f"搜索索引已重建：{count} 条。")
    while True:
        if not backend().ready():
            count = rebuild_if_missing(db.session, backend(), root)
            if count is not None:
                click.echo(f"搜索索引缺失，已重建：{count} 条。")
        applied = drain(db.session, backend(), root) if backend().ready() else 0
        if applied:
            click.echo(f"已写入索引：{applied} 条变更。")
        if once:
            return
        time.sleep(POLL_SECONDS)


@click.command("notify-overdue")
@with_appcontext
def notify_overdue_command() -> None:
    """Tell departments about questions that became overdue (each once); the worker does it every 5 minutes."""
    from portal.services.desk.notices import notify_overdue

    count = notify_overdue(db.session, current_app.config)
    click.echo(f"超时提醒：新发出 {count} 条。")
