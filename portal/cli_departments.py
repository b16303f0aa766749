"""Flask commands for departments: `flask departments list|add|rename|retire|merge` (as on the admin's screen)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from portal.errors import PortalError, ValidationFailed
from portal.extensions import db
from portal.models import Department
from portal.services.board import departments


def _find(text: str) -> Department:
    department = departments.resolve(db.session, text, follow_mergers=False)
    if department is None:
        raise click.ClickException(f"没有部门“{text}”（可用名称、曾用名或网址标识）。")
    return department


def _run(action):
    try:
        return action()
    except ValidationFailed as exc:
        db.session.rollback()
        raise click.ClickException("；".join(exc.reasons.values())) from exc
    except PortalError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc


@click.group("departments")
def departments_group() -> None:
    """Add, rename, retire and merge departments."""


@departments_group.command("list")
@with_appcontext
def list_command() -> None:
    """Every department with its slug, state and former names."""
    for d in departments.all_departments(db.session):
        former = "；曾用名：" + "、".join(o.name for o in d.former_names) if d.former_names else ""
        click.echo(f"{d.slug}\t{d.name}\t{d.state_label}{former}")


@departments_group.command("add")
@with_appcontext
@click.argument("name")
@click.option("--slug", required=True, help="URL slug: lower-case letters, digits, hyphens.")
@click.option("--description", default="")
def add_command(name: str, slug: str, description: str) -> None:
    """Add a department."""
    d = _run(lambda: departments.add_department(db.session, None, name, slug, description))
    click.echo(f"已新增部门 {d.name}（{d.slug}）。")


@departments_group.command("rename")
@with_appcontext
@click.argument("department")
@click.argument("new_name")
def rename_command(department: str, new_name: str) -> None:
    """Rename a department; answers keep the name they were given under."""
    d = _find(department)
    old = d.name
    _run(lambda: departments.rename_department(db.session, None, d, new_name))
    click.echo(f"已将 {old} 更名为 {new_name}；此前的答复仍显示原名称。")


@departments_group.command("retire")
@with_appcontext
@click.argument("department")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
def retire_command(department: str, reason: str) -> None:
    """Retire a department (refused while it leads open questions)."""
    d = _find(department)
    _run(lambda: departments.retire_department(db.session, None, d, reason))
    click.echo(f"已撤销部门 {d.name}。")


@departments_group.command("merge")
@with_appcontext
@click.argument("department")
@click.argument("into")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
def merge_command(department: str, into: str, reason: str) -> None:
    """Merge a department into another: staff, open questions, templates and directory rows move."""
    source, target = _find(department), _find(into)
    moved = _run(lambda: departments.merge_department(db.session, None, source, target, reason))
    click.echo(f"已将 {source.name} 并入 {target.name}：账号 {moved['staff']} 个，未办结留言 {moved['questions']} 条，"
               f"模板 {moved['templates']} 条，名录 {moved['directory']} 条。")
