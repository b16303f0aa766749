"""Small helpers shared by the views."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required
from flask_wtf import FlaskForm


def apply_reasons(form: FlaskForm, reasons: dict[str, str]) -> list[str]:
    """Put service messages next to their fields; returns those that belong to no field."""
    leftover = []
    for name, message in reasons.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
        else:
            leftover.append(message)
    return leftover


def roles_required(*roles: str):
    """Signed-in staff with one of `roles`; others get the login page (anonymous) or 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapped

    return decorator
