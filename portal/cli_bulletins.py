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
    """Fan out and send now what the worker would (announcements that came due, due mails and pings); for a
    server without `flask worker`, or by hand. The worker does this every minute by itself."""
    from portal import jobs

    announced = jobs.announce.call_local()
    sent = jobs.deliver.call_local()
    click.echo(
        f"通报和新闻稿 {announced.get('announced', 0)} 条：新排队邮件 {announced.get('queued_mails', 0)} 封、"
        f"推送 {announced.get('queued_pings', 0)} 次；发出邮件 {sent.get('mails_sent', 0)} 封，"
        f"退信 {sent.get('mails_bounced', 0)} 封，待重试 {sent.get('mails_retrying', 0)} 封，"
        f"推送 {sent.get('pings_sent', 0)} 次。"
    )


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run every job that is due now, then exit.")
@click.option("--threads", type=int, default=None, help="Worker threads (PORTAL_WORKER_THREADS, default 2).")
@with_appcontext
def worker(burst: bool, threads: int | None) -> None:
    """The background worker: mail and pings per recipient, announcements, the search index, exports, sweeps."""
    import logging

    from portal import jobs

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if burst:
        totals = jobs.run_burst(app)
        click.echo("worker --burst: " + (", ".join(f"{k}={v}" for k, v in sorted(totals.items())) or "nothing to do"))
        return
    jobs.run_consumer(app, threads)


@click.command("page-tree")
@click.option("--once", is_flag=True, help="Write every page now due and the busiest pages, then exit.")
@with_appcontext
def page_tree(once: bool) -> None:
    """Write the static tree (PORTAL_PAGE_TREE_DIR) that this machine's nginx serves, without the job queue: for an
    nginx host that runs no app server (`flask worker` on an app server writes its tree itself)."""
    import logging

    from portal import pagetree

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    writer = pagetree.writer_for(app)
    if writer is None:
        raise click.ClickException("PORTAL_PAGE_TREE_DIR 未设置：没有要写的静态页面目录。")
    if once:
        count = writer.run_once()
        click.echo(f"静态页面：检查 {count} 页，写入 {writer.written} 页，删除 {writer.dropped} 页。")
        return
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        writer.run_forever()
    except KeyboardInterrupt:
        pass
