"""Flask commands for bulletins: the demo incident (part of seed-demo) and send-due-notifications."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from portal.extensions import db
from portal.models import StaffUser
from portal.models.staff import ROLE_ADMIN, ROLE_SPOKESPERSON


def seed_demo_incident(path: Path) -> None:
    """Load content/demo/incident.json once, in the name of the spokesperson (or the admin)."""
    from portal.services.bulletins.demo_incident import load_demo_incident

    if not path.is_file():
        return
    actor = db.session.scalar(select(StaffUser).where(StaffUser.role == ROLE_SPOKESPERSON)) or db.session.scalar(
        select(StaffUser).where(StaffUser.role == ROLE_ADMIN)
    )
    if actor is None:
        click.echo("演示事件：没有新闻发言人或管理员账号，跳过。")
        return
    incident = load_demo_incident(db.session, path, actor)
    if incident is None:
        click.echo("演示事件：已存在，跳过。")
    else:
        count = len(incident.updates)
        click.echo(f"演示事件：已创建“{incident.title}”（/incidents/{incident.slug}），{count} 条通报。")


def seed_demo_press(path: Path) -> None:
    """Load content/demo/press.json once: two releases (one with an image and a PDF), a conference, the directory."""
    from portal.services.press.demo_press import load_demo_press

    if not path.is_file():
        return
    actor = db.session.scalar(select(StaffUser).where(StaffUser.role == ROLE_SPOKESPERSON)) or db.session.scalar(
        select(StaffUser).where(StaffUser.role == ROLE_ADMIN)
    )
    admin = db.session.scalar(select(StaffUser).where(StaffUser.role == ROLE_ADMIN))
    if actor is None:
        click.echo("演示新闻发布：没有新闻发言人或管理员账号，跳过。")
        return
    created = load_demo_press(db.session, path, actor, admin, current_app.config)
    click.echo("演示新闻发布：" + ("、".join(created) if created else "已存在，跳过。"))


@click.command("send-due-notifications")
@with_appcontext
def send_due_notifications() -> None:
    """E-mail subscribers and ping the WebSub hub for updates and press releases that came due or whose sending
    failed earlier."""
    from portal.views.links import send_due

    outcome = send_due(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(
        f"通报 {outcome.updates} 条、新闻稿 {outcome.releases} 篇：发出邮件 {outcome.mails} 封，"
        f"未能发出 {outcome.failed} 封（保留待发），推送 {outcome.pings} 次。"
    )
