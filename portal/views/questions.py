"""The public board and the ask form."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from sqlalchemy.exc import OperationalError

from portal.errors import PortalError, ValidationFailed
from portal.extensions import db, limiter
from portal.models import SiteState
from portal.numbers import is_ascii_digits, parse_positive_int
from portal.privacy import current_fingerprints
from portal.services.board import listing
from portal.services.board.questions import NewQuestion, submit_question
from portal.services.clock import rule_from_config
from portal.views.common import apply_reasons
from portal.views.forms import AskForm, options

bp = Blueprint("questions", __name__)

STORE_FAILED_MESSAGE = "系统暂时无法保存留言（存储繁忙或已满），您的留言尚未提交。下面保留了您填写的内容，请稍后再试。"


@bp.get("/questions")
def board_page():
    """Published questions, newest first, filtered by department, category and month."""
    args = request.args
    departments = listing.departments(db.session)
    try:
        filters = listing.parse_board_filters(
            db.session,
            args.get("department", "")[:40],
            args.get("category", "")[:8],
            args.get("month", "")[:7],
            args.get("page", "")[:6],
        )
    except ValidationFailed as exc:
        return (
            render_template(
                "questions/board.html", page=None, filters=None, departments=departments,
                errors=list(exc.reasons.values()), args=args,
            ),
            400,
        )
    result = listing.published_board(db.session, filters, int(current_app.config["BOARD_PAGE_SIZE"]))
    if filters.page > 1 and not result.items:
        abort(404)
    return render_template(
        "questions/board.html", page=result, filters=filters, departments=departments, errors=[], args=args
    )


@bp.get("/questions/<number>")
def detail(number: str):
    """One published question with its official reply."""
    if not is_ascii_digits(number) or len(number) > 20:
        abort(404)
    question = listing.get_published(db.session, number)
    if question is None:
        if listing.is_under_review(db.session, number):
            # Hidden after reports or by the office: say so (the content stays off the page), not "not found".
            return render_template("questions/under_review.html", number=number)
        abort(404)
    from portal.services.bulletins.bulletin_read import updates_answering
    from portal.services.desk.handling import public_thread
    from portal.services.desk.routing import duplicates_of

    answered_by = updates_answering(db.session, question.id)
    progress, after_reply = public_thread(db.session, question, current_app.config["OFFICE_NAME"])
    return render_template(
        "questions/detail.html", q=question, answered_by=answered_by, merged=duplicates_of(db.session, question),
        progress=progress, after_reply=after_reply,
    )


def _ask_form() -> AskForm:
    form = AskForm()
    form.department.choices = options(
        [("", "不确定，由办公室分办")] + [(str(d.id), d.name) for d in listing.departments(db.session)]
    )
    return form


PAUSED_MESSAGE = (
    "突发事件处置期间，网上留言暂停接收，恢复时间另行通知。您填写的内容已保留在下方，请稍后再提交；"
    "紧急情况请拨打 110、119、120。"
)


def _intake_paused() -> bool:
    state = db.session.get(SiteState, 1)
    return bool(state and state.intake_paused)


def render_ask(form: AskForm, errors: list[str], status: int = 200, paused: bool | None = None):
    """The ask page with the citizen's input and any messages."""
    if paused is None:
        paused = _intake_paused()
    return render_template("questions/ask.html", form=form, errors=errors, paused=paused,
                           paused_message=PAUSED_MESSAGE), status


@bp.route("/ask", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_ASK"], methods=["POST"])
def ask():
    """Ask a question without an account; the tracking code is shown once on the next page."""
    form = _ask_form()
    if request.method == "GET":
        return render_ask(form, [])
    if _intake_paused():
        return render_ask(form, [PAUSED_MESSAGE], 503, paused=True)
    if form.homepage.data:
        return render_ask(form, ["提交未通过校验，请刷新页面后重试。"], 400)
    if not form.validate():
        return render_ask(form, [], 400)
    dept_raw = form.department.data or ""
    department_id = parse_positive_int(dept_raw, 10**9) if dept_raw else None
    if dept_raw and department_id is None:
        form.department.errors = ["所选部门不存在，请重新选择。"]
        return render_ask(form, [], 400)
    data = NewQuestion(
        title=form.title.data or "",
        body=form.body.data or "",
        category=form.category.data or "",
        department_id=department_id,
        contact=form.contact.data or "",
    )
    try:
        question, code = submit_question(
            db.session,
            data,
            current_fingerprints(),
            int(current_app.config["ASK_QUOTA_PER_HOUR"]),
            rule_from_config(current_app.config),
        )
    except ValidationFailed as exc:
        return render_ask(form, apply_reasons(form, exc.reasons), 400)
    except PortalError as exc:
        db.session.rollback()
        return render_ask(form, [exc.message], exc.status_code)
    except OperationalError:
        # The database refused the write (full disk, locked too long): nothing was stored; keep what was typed.
        db.session.rollback()
        current_app.logger.exception("question could not be stored")
        return render_ask(form, [STORE_FAILED_MESSAGE], 503)
    session["asked"] = {"number": question.number, "code": code}
    return redirect(url_for("questions.ask_done"), 303)


@bp.get("/ask/done")
def ask_done():
    """Shows the number and tracking code once; a reload shows only a reminder."""
    shown = session.pop("asked", None)
    response = current_app.make_response(render_template("questions/ask_done.html", shown=shown))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/questions/<number>/report", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_REPORT"], methods=["POST"])
def report(number: str):
    """Report a published item; enough distinct reports hide it until the office reviews it."""
    from portal.services.board.reports import report_question
    from portal.views.forms import ReportForm

    if not is_ascii_digits(number) or len(number) > 20:
        abort(404)
    question = listing.get_published(db.session, number)
    if question is None:
        abort(404)
    form = ReportForm()
    if request.method == "GET":
        return render_template("questions/report.html", q=question, form=form, errors=[], done=False)
    if not form.validate():
        return render_template("questions/report.html", q=question, form=form, errors=[], done=False), 400
    try:
        report_question(db.session, question, current_fingerprints(), form.reason.data or "",
                        int(current_app.config["REPORT_HIDE_THRESHOLD"]))
    except ValidationFailed as exc:
        db.session.rollback()
        return render_template("questions/report.html", q=question, form=form,
                               errors=apply_reasons(form, exc.reasons), done=False), 400
    except PortalError as exc:
        db.session.rollback()
        return render_template("questions/report.html", q=question, form=form, errors=[exc.message],
                               done=False), exc.status_code
    return render_template("questions/report.html", q=question, form=form, errors=[], done=True)
