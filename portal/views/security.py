"""Security headers on every response, and no caching of anything that carries a session."""

from __future__ import annotations

from flask import Flask, abort, request, session

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def register(app: Flask) -> None:
    """Add the request guard and the after-request hook."""

    @app.before_request
    def limit_form_fields():
        # Werkzeug's MAX_FORM_PARTS covers multipart forms only; a URL-encoded form is counted here (413).
        if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
            if sum(len(values) for _, values in request.form.lists()) > int(app.config["MAX_FORM_PARTS"]):
                abort(413)

    @app.after_request
    def headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        if session.modified or session.get("_user_id"):
            h["Cache-Control"] = "private, no-store"
        return response
