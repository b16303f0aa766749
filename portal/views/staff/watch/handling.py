"""Handling one watched item: triage, assignment, answers under registered screen names, notes, escalation,
closing with a grade; the page shows the clock, the answers (and whether they are still online) and the history."""

from __future__ import annotations

from datetime import datetime

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.errors import NotFound, PortalError, ValidationFailed
from portal.extensions import db
from portal.models import Department
from portal.models.staff import ROLE_OFFICE, ROLE_RESPONDER
from portal.models.watch import WatchCapture
from portal.models.watch_loop import GRADES, ITEM_STATUS_LABELS
from portal.numbers import parse_positive_int
from portal.services.desk import memos, notices
from portal.services.watch import handling
from portal.services.watch.items import cluster_platforms
from portal.services.watch.screen_names import registry
from portal.timeutil import BEIJING, utcnow
from portal.views.common import roles_required
from portal.views.forms import CsrfForm
from portal.views.staff import bp
from portal.views.staff.watch.desk import READERS

HANDLERS = (ROLE_OFFICE, ROLE_RESPONDER)
FIELDS = ("reason", "department", "note", "url", "screen_name", "answered_at", "text", "grade", "body")


def _item(item_id: int):
    try:
        return handling.get_item(db.session, item_id)
    except NotFound:
        abort(404)


def render_item(item, status: int = 200, errors: dict[str, str] | None = None, typed: dict | None = None):
    """The item page with its handling panel; `typed` keeps what the user typed after a refusal."""
    spread = cluster_platforms(item.cluster) if item.cluster else []
    platform_names = [e for _dept, entries in registry(db.session) for e in entries
                      if e.platform == item.source.platform and e.active]
    if current_user.role == ROLE_RESPONDER:
        platform_names = [e for e in platform_names if not e.official and e.department_id == current_user.department_id]
    return render_template(
        "staff/watch/item.html", item=item, spread=spread, form=CsrfForm(formdata=None), errors=errors or {},
        typed=typed or {}, can_handle=handling.can_handle(current_user, item), grades=GRADES,
        departments=list(db.session.scalars(select(Department).where(Department.active.is_(True))
                                            .order_by(Department.name))),
        screen_names=platform_names, timeline=memos.timeline(db.session, item), labels=ITEM_STATUS_LABELS,
        due_preview=item.due_at or handling.due_for(current_app.config, item), now=utcnow(),
        captures=list(db.session.scalars(select(WatchCapture).where(WatchCapture.item_id == item.id)
                                         .order_by(WatchCapture.created_at))),
    ), status


@bp.get("/watch/items/<int:item_id>")
@roles_required(*READERS)
def watch_item(item_id: int):
    """One item: its text, the plans it matched, every platform where its story appeared, and its handling."""
    return render_item(_item(item_id))


def _act(item_id: int, action):
    """Run one handling step with the CSRF check; a refusal re-renders the page with the input (4xx)."""
    item = _item(item_id)
    typed = {k: str(request.form.get(k, ""))[:5000] for k in FIELDS}
    if not CsrfForm().validate():
        return render_item(item, 400, {"form": "表单已过期，请刷新页面后重试。"}, typed)
    try:
        action(item, typed)
    except ValidationFailed as exc:
        db.session.rollback()
        return render_item(item, 400, exc.reasons, typed)
    except PortalError as exc:
        db.session.rollback()
        return render_item(item, exc.status_code, {"form": exc.message}, typed)
    return redirect(url_for("staff.watch_item", item_id=item.id), 303)


@bp.post("/watch/items/<int:item_id>/dismiss")
@roles_required(ROLE_OFFICE)
def watch_item_dismiss(item_id: int):
    """待研判 -> 无需处置, with a reason."""
    return _act(item_id, lambda item, t: handling.dismiss(db.session, current_user, item, t["reason"]))


@bp.post("/watch/items/<int:item_id>/assign")
@roles_required(ROLE_OFFICE)
def watch_item_assign(item_id: int):
    """待研判 -> 已交办: lead department (or the office) and co-departments; they are told."""
    co = [i for i in (parse_positive_int(v, 10**9) for v in request.form.getlist("co_departments")[:50]) if i]

    def run(item, t):
        dept = t["department"]
        if dept and parse_positive_int(dept, 10**9) is None:
            raise ValidationFailed({"department": "没有这个部门。"})
        handling.assign(db.session, current_user, item, parse_positive_int(dept, 10**9) if dept else None, co,
                        current_app.config, t["note"])
        _mail_new_notices(item.id)

    return _act(item_id, run)


def _mail_new_notices(item_id: int) -> None:
    """After the commit: mail the notices about this item that are not mailed yet (a failure stays on them)."""
    from portal.models import Notification

    ids = list(db.session.scalars(select(Notification.id).where(Notification.watch_item_id == item_id,
                                                                 Notification.mailed_at.is_(None))))
    try:
        notices.deliver(db.session, current_app.config, ids)
    except Exception:  # noqa: BLE001 - the assignment stands; the notice is on screen
        current_app.logger.exception("notices for watched item %s not mailed", item_id)


def _when(text: str) -> datetime | None:
    text = (text or "").strip().replace("T", " ")
    if not text:
        return None
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=BEIJING)
        except ValueError:
            continue
    raise ValidationFailed({"answered_at": "回应时间格式应为 2026-11-30 14:05。"})


@bp.post("/watch/items/<int:item_id>/answer")
@roles_required(*HANDLERS)
def watch_item_answer(item_id: int):
    """Record the answer made on the platform: link, registered screen name, time, text."""
    return _act(item_id, lambda item, t: handling.record_answer(
        db.session, current_user, item, t["url"], t["screen_name"], _when(t["answered_at"]), t["text"]))


@bp.post("/watch/items/<int:item_id>/close")
@roles_required(ROLE_OFFICE)
def watch_item_close(item_id: int):
    """已回应 -> 已办结, with the office's grade of the answers."""
    return _act(item_id, lambda item, t: handling.close(db.session, current_user, item, t["grade"]))


@bp.post("/watch/items/<int:item_id>/escalate")
@roles_required(ROLE_OFFICE)
def watch_item_escalate(item_id: int):
    """Raise the item to 重大 (then it may go on a memo)."""
    return _act(item_id, lambda item, t: handling.escalate(db.session, current_user, item))


@bp.post("/watch/items/<int:item_id>/note")
@roles_required(*HANDLERS)
def watch_item_note(item_id: int):
    """An internal note."""
    return _act(item_id, lambda item, t: handling.add_note(db.session, current_user, item, t["body"]))
