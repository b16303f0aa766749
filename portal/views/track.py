"""Following a question with its number and tracking code, and rating the reply."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, session
from sqlalchemy import select

from portal.errors import NotFound, PortalError, ValidationFailed
from portal.extensions import db, limiter
from portal.models import Question
from portal.services.board.questions import find_by_tracking
from portal.services.desk import handling, review
from portal.views.common import apply_reasons
from portal.views.forms import FollowUpForm, RateForm, TrackForm

bp = Blueprint("track", __name__)

MAX_TRACKED = 20


def _thread(question: Question | None, followup_form: FollowUpForm | None) -> dict:
    """The handling steps the citizen sees: interim and supplementary replies, follow-up, extensions."""
    if question is None:
        return {"progress": [], "after_reply": [], "followup_form": None}
    may_follow = handling.may_follow_up(db.session, question)
    if may_follow and followup_form is None:
        followup_form = FollowUpForm(formdata=None, number=question.number)
    progress, after_reply = handling.public_thread(db.session, question, current_app.config["OFFICE_NAME"])
    return {"progress": progress, "after_reply": after_reply, "followup_form": followup_form if may_follow else None}


def _render(form: TrackForm, question: Question | None, errors: list[str], status: int = 200, rate_form=None,
            followup_form=None):
    form.code.data = ""  # a tracking code is never written into a page
    if question is not None and rate_form is None:
        rate_form = RateForm(formdata=None, number=question.number)
    response = current_app.make_response((
        render_template("track/track.html", form=form, q=question, errors=errors, rate_form=rate_form,
                        **_thread(question, followup_form)),
        status,
    ))
    response.headers["Cache-Control"] = "no-store"
    return response


def _remember(question: Question) -> None:
    """The session remembers which questions this browser proved it may rate (the code itself is not kept)."""
    tracked = [n for n in session.get("tracked", []) if n != question.number]
    session["tracked"] = ([question.number] + tracked)[:MAX_TRACKED]


@bp.route("/track", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_TRACK"], methods=["POST"])
def track():
    """Status of a question, and the reply once it is published."""
    if request.method == "GET":
        form = TrackForm(formdata=None, number=request.args.get("number", "")[:20])
        return _render(form, None, [])
    form = TrackForm()
    if not form.validate():
        return _render(form, None, [], 400)
    try:
        question = find_by_tracking(db.session, form.number.data or "", form.code.data or "")
    except NotFound as exc:
        return _render(form, None, [exc.message], 404)
    _remember(question)
    return _render(form, question, [])


@bp.post("/track/rate")
@limiter.limit(lambda: current_app.config["RATELIMIT_TRACK"])
def rate():
    """Rate a published reply once; only after the code was checked in this browser."""
    rate_form = RateForm()
    number = (rate_form.number.data or "")[:20]
    form = TrackForm(formdata=None, number=number)
    if number not in session.get("tracked", []):
        return _render(form, None, ["请先用留言编号和查询码查询，再进行评价。"], 403)
    question = db.session.scalar(select(Question).where(Question.number == number))
    if question is None:
        return _render(form, None, ["请先用留言编号和查询码查询，再进行评价。"], 403)
    if not rate_form.validate():
        return _render(form, question, [], 400, rate_form=rate_form)
    try:
        review.rate(db.session, question, rate_form.rating.data or "", rate_form.comment.data or "")
    except ValidationFailed as exc:
        db.session.rollback()
        return _render(form, question, apply_reasons(rate_form, exc.reasons), 400, rate_form=rate_form)
    except PortalError as exc:
        db.session.rollback()
        return _render(form, question, [exc.message], exc.status_code, rate_form=rate_form)
    return _render(form, question, [], rate_form=rate_form)


@bp.post("/track/followup")
@limiter.limit(lambda: current_app.config["RATELIMIT_TRACK"])
def follow_up():
    """One follow-up question (追问) after the reply; only after the code was checked in this browser."""
    followup_form = FollowUpForm()
    number = (followup_form.number.data or "")[:20]
    form = TrackForm(formdata=None, number=number)
    if number not in session.get("tracked", []):
        return _render(form, None, ["请先用留言编号和查询码查询，再进行追问。"], 403)
    question = db.session.scalar(select(Question).where(Question.number == number))
    if question is None:
        return _render(form, None, ["请先用留言编号和查询码查询，再进行追问。"], 403)
    if not followup_form.validate():
        return _render(form, question, [], 400, followup_form=followup_form)
    try:
        handling.follow_up(db.session, question, followup_form.body.data or "")
    except ValidationFailed as exc:
        db.session.rollback()
        return _render(form, question, apply_reasons(followup_form, exc.reasons), 400, followup_form=followup_form)
    except PortalError as exc:
        db.session.rollback()
        return _render(form, question, [exc.message], exc.status_code, followup_form=followup_form)
    return _render(form, question, [])
