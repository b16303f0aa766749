"""Staff sign-in and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from portal.errors import PortalError
from portal.extensions import db, limiter
from portal.services.accounts import authenticate, end_sessions
from portal.views.forms import LoginForm, LogoutForm

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("staff.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
def login():
    """The sign-in form; every failure gets the same message."""
    form = LoginForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("staff.index"))
        return render_template("auth/login.html", form=form, errors=[])
    if not form.validate():
        return render_template("auth/login.html", form=form, errors=[]), 400
    try:
        user = authenticate(
            db.session,
            form.username.data or "",
            form.password.data or "",
            int(current_app.config["LOGIN_MAX_FAILURES"]),
            int(current_app.config["LOGIN_LOCK_MINUTES"]),
        )
    except PortalError as exc:
        return render_template("auth/login.html", form=form, errors=[exc.message]), 401
    session.clear()
    login_user(user)
    session.permanent = True
    return redirect(_safe_next(request.args.get("next")), 303)


@bp.post("/logout")
@login_required
def logout():
    """Sign out and end every session of this account (the session token rotates)."""
    form = LogoutForm()
    if not form.validate():
        return redirect(url_for("staff.index"))
    end_sessions(db.session, current_user._get_current_object(), "logout")
    logout_user()
    session.clear()
    return redirect(url_for("public.home"), 303)
