"""Staff sign-in and sign-out."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from portal.errors import PortalError, ValidationFailed
from portal.extensions import db, limiter
from portal.models import StaffUser
from portal.services.accounts import totp
from portal.services.accounts.signin import authenticate, end_sessions
from portal.views.common import apply_reasons
from portal.views.forms import LoginForm, LogoutForm, TotpForm

PENDING_SECONDS = 300

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
    if totp.requires_totp(user, current_app.config):
        # Not signed in yet: only a pending user id until the second factor is accepted.
        session["totp_pending"] = {"id": user.id, "at": int(time.time()), "next": _safe_next(request.args.get("next"))}
        return redirect(url_for("auth.second_factor"), 303)
    login_user(user)
    session.permanent = True
    return redirect(_safe_next(request.args.get("next")), 303)


def _pending_user() -> StaffUser | None:
    pending = session.get("totp_pending")
    if not isinstance(pending, dict) or int(time.time()) - int(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    user = db.session.get(StaffUser, int(pending.get("id", 0)))
    return user if user is not None and user.active else None


@bp.route("/login/totp", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_TOTP"], methods=["POST"])
def second_factor():
    """The second step for admin and spokesperson: enrol an authenticator, or type its current code."""
    user = _pending_user()
    if user is None:
        session.pop("totp_pending", None)
        session.pop("totp_enrol", None)
        return redirect(url_for("auth.login"))
    key = totp.config_keyring(current_app.config)
    enrolling = not user.totp_secret
    if enrolling and not session.get("totp_enrol"):
        session["totp_enrol"] = totp.new_secret()
    secret = session.get("totp_enrol") if enrolling else None
    form = TotpForm()
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        if not form.validate():
            status = 400
        else:
            try:
                if enrolling:  # the code that proves the enrolment signs in (and is used up)
                    totp.enrol(db.session, user, key, secret, form.code.data or "")
                else:
                    totp.check(
                        db.session, user, key, form.code.data or "",
                        int(current_app.config["LOGIN_MAX_FAILURES"]), int(current_app.config["LOGIN_LOCK_MINUTES"]),
                    )
            except ValidationFailed as exc:
                db.session.rollback()
                errors, status = apply_reasons(form, exc.reasons), 400
            except PortalError as exc:
                db.session.rollback()
                errors, status = [exc.message], 401
            else:
                target = session["totp_pending"].get("next") or url_for("staff.index")
                session.clear()
                login_user(user)
                session.permanent = True
                return redirect(_safe_next(target), 303)
    form.code.data = ""
    qr = uri = None
    if enrolling:
        uri = totp.provisioning_uri(secret, user.username, current_app.config["TOTP_ISSUER"])
        qr = totp.qr_svg(uri)
    return render_template(
        "auth/totp.html", form=form, errors=errors, enrolling=enrolling, secret=secret, qr=qr, user=user
    ), status


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
