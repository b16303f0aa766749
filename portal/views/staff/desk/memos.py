"""Forwarding memos (网络舆情抄告单): create from major items, list with status, printable A4 page."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.errors import NotFound, PortalError, ValidationFailed
from portal.extensions import db
from portal.models import Question, WatchItem
from portal.models.desk import MEMO_STATUS_LABELS
from portal.models.staff import ROLE_ADMIN, ROLE_OFFICE, ROLE_SPOKESPERSON
from portal.numbers import parse_positive_int
from portal.services.board import listing
from portal.services.desk import memos
from portal.views.common import apply_reasons, roles_required
from portal.views.forms import CsrfForm, options
from portal.views.staff import bp
from portal.views.staff.desk.forms import MemoForm

READERS = (ROLE_OFFICE, ROLE_ADMIN, ROLE_SPOKESPERSON)


def _memo(memo_id: int):
    try:
        return memos.get_memo(db.session, memo_id)
    except NotFound:
        abort(404)


def _form(formdata: bool = False) -> MemoForm:
    form = MemoForm() if formdata else MemoForm(formdata=None)
    pairs = [(str(d.id), d.name) for d in listing.departments(db.session)]
    form.department.choices = options([("", "（不指定）")] + pairs)
    return form


def _candidates() -> list[Question]:
    return list(db.session.scalars(
        select(Question).where(Question.is_major.is_(True)).order_by(Question.received_at.desc()).limit(200)
    ))


def _watch_candidates() -> list[WatchItem]:
    """Watched items the office may put on a memo: major ones and those still being handled."""
    return list(db.session.scalars(
        select(WatchItem).where(WatchItem.severity == "重大").order_by(WatchItem.first_seen_at.desc()).limit(200)
    ))


@bp.get("/memos")
@roles_required(*READERS)
def memo_list():
    """Every memo with its status; the office's form for a new one from the major items."""
    status = request.args.get("status", "")
    status = status if status in MEMO_STATUS_LABELS else None
    return render_template("staff/desk/memos.html", memos=memos.list_memos(db.session, status), status=status,
                           labels=MEMO_STATUS_LABELS, form=_form(), candidates=_candidates(), errors=[],
                           chosen=set(), watch_candidates=_watch_candidates(), watch_chosen=set())


@bp.post("/memos")
@roles_required(ROLE_OFFICE)
def memo_create():
    """Create a numbered memo about the chosen (related) questions."""
    form = _form(formdata=True)
    ids = [i for i in (parse_positive_int(v, 10**9) for v in request.form.getlist("ids")[:100]) if i]
    wids = [i for i in (parse_positive_int(v, 10**9) for v in request.form.getlist("watch_ids")[:100]) if i]
    errors: list[str] = []
    if form.validate():
        try:
            memo = memos.create_memo(
                db.session, current_user, ids, form.title.data or "",
                parse_positive_int(form.department.data or "", 10**9), form.summary.data or "",
                form.suggestion.data or "", watch_item_ids=wids,
            )
        except ValidationFailed as exc:
            db.session.rollback()
            errors = apply_reasons(form, exc.reasons)
        except PortalError as exc:
            db.session.rollback()
            errors = [exc.message]
        else:
            return redirect(url_for("staff.memo_detail", memo_id=memo.id), 303)
    return render_template("staff/desk/memos.html", memos=memos.list_memos(db.session), status=None,
                           labels=MEMO_STATUS_LABELS, form=form, candidates=_candidates(), errors=errors,
                           chosen=set(ids), watch_candidates=_watch_candidates(), watch_chosen=set(wids)), 400


@bp.get("/memos/<int:memo_id>")
@roles_required(*READERS)
def memo_detail(memo_id: int):
    """The memo as a printable A4 page: items, their timelines, department, suggestion, sign-off fields."""
    memo = _memo(memo_id)
    timelines = {item.id: memos.timeline(db.session, item.question or item.watch_item) for item in memo.items}
    return render_template("staff/desk/memo.html", memo=memo, timelines=timelines, form=CsrfForm(formdata=None))


@bp.post("/memos/<int:memo_id>/advance")
@roles_required(ROLE_OFFICE)
def memo_advance(memo_id: int):
    """Mark the memo sent to the leadership, then done."""
    memo = _memo(memo_id)
    if not CsrfForm().validate():
        abort(400)
    try:
        memos.advance(db.session, current_user, memo)
    except PortalError:
        db.session.rollback()
    return redirect(url_for("staff.memo_detail", memo_id=memo.id), 303)
