"""E-mail subscriptions: the form (its own page, so bulletin pages set no cookie), confirm, unsubscribe.

One choice list covers the scopes: every bulletin (""), press releases (RELEASES_CHOICE, which no incident slug can
be) or one active incident (its slug).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from portal.errors import NotFound, ValidationFailed
from portal.extensions import csrf, db, limiter
from portal.models.subscription import KIND_BULLETINS, KIND_RELEASES
from portal.services.bulletins import bulletin_read, subscriptions
from portal.services.ops.mailer import mail_configured
from portal.views.common import apply_reasons
from portal.views.forms import CsrfForm, SubscribeForm, options

bp = Blueprint("subscribe", __name__)
RELEASES_CHOICE = "@news"  # not a possible incident slug (SLUG_RE)


def _form() -> SubscribeForm:
    form = SubscribeForm()
    form.incident.choices = options(
        [("", "全部突发事件通报"), (RELEASES_CHOICE, "全部新闻发布稿件（新闻稿、辟谣、通知公告、政策解读）")]
        + [(i.slug, f"仅此事件：{i.title}") for i in bulletin_read.list_incidents(db.session) if i.is_active]
    )
    return form


@bp.route("/subscribe", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_ASK"], methods=["POST"])
def subscribe():
    """Ask for a subscription; a confirmation e-mail completes it (double opt-in)."""
    form = _form()
    if request.method == "GET":
        form.incident.data = request.args.get("incident", "")[:80]
        return render_template("subscribe/form.html", form=form, errors=[])
    if not form.validate():
        return render_template("subscribe/form.html", form=form, errors=[]), 400
    if not mail_configured(current_app.config):
        return render_template("subscribe/form.html", form=form, errors=["本站暂未开通邮件发送，暂时无法订阅。"]), 503
    slug = form.incident.data or ""
    kind = KIND_RELEASES if slug == RELEASES_CHOICE else KIND_BULLETINS
    incident = bulletin_read.get_incident(db.session, slug) if slug and kind == KIND_BULLETINS else None
    if slug and kind == KIND_BULLETINS and incident is None:
        form.incident.errors = ["没有这个事件，请重新选择。"]
        return render_template("subscribe/form.html", form=form, errors=[]), 400
    try:
        # The confirmation mail is queued with the subscription; the worker sends it (its link from BASE_URL).
        subscriptions.subscribe(db.session, form.email.data or "", incident, kind,
                                smtputf8=bool(current_app.config["SMTP_UTF8"]))
    except ValidationFailed as exc:
        db.session.rollback()
        return render_template("subscribe/form.html", form=form, errors=apply_reasons(form, exc.reasons)), 400
    return redirect(url_for("subscribe.sent"), 303)


@bp.get("/subscribe/sent")
def sent():
    """Check your mailbox."""
    return render_template("subscribe/message.html", title="请查收确认邮件",
                           message="我们已向您的邮箱发送了一封确认邮件，点击其中的链接后订阅才会生效。")


@bp.route("/subscribe/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """The link in the confirmation e-mail: GET (and HEAD, what link scanners send) shows a 确认订阅 button and
    changes nothing; only the button's POST (with the CSRF token) confirms."""
    form = CsrfForm()
    try:
        if request.method == "POST":
            if not form.validate():
                sub = subscriptions.peek(db.session, token[:80])
                return render_template("subscribe/confirm.html", sub=sub, form=form), 400
            sub = subscriptions.confirm(db.session, token[:80])
            message = f"您已订阅{sub.what}。每封邮件都附有退订链接。"
            return render_template("subscribe/message.html", title="订阅成功", message=message)
        sub = subscriptions.peek(db.session, token[:80])
    except NotFound as exc:
        return render_template("subscribe/message.html", title="链接无效", message=exc.message), 404
    return render_template("subscribe/confirm.html", sub=sub, form=form)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # the unguessable token in the URL is the credential; mail clients POST here (RFC 8058)
def unsubscribe(token: str):
    """GET shows a one-button page (link scanners must not unsubscribe); POST unsubscribes at once."""
    try:
        if request.method == "POST":
            subscriptions.unsubscribe(db.session, token[:80])
            message = "您已退订，不会再收到这类邮件。"
            return render_template("subscribe/message.html", title="已退订", message=message)
        sub = subscriptions.peek(db.session, token[:80])
    except NotFound:
        abort(404)
    return render_template("subscribe/unsubscribe.html", sub=sub)
