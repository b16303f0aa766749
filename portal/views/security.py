"""Security headers on every response, and no caching of anything that carries a session."""

from __future__ import annotations

from flask import Flask, abort, request, session

from portal import cache

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# The same on every response (a response may set its own first, as attachments do). With
# SECURITY_HEADERS_AT_EDGE, nginx adds them instead (deploy/nginx.conf): nginx re-reads a cached response's
# headers on every hit, and these four cost about 15 % of its throughput on a cached page (bench/load.py, README).
EDGE_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
)

# Flask-Limiter's headers describe one client's quota; a copy kept by a shared cache must not carry them.
QUOTA_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After")


def register_before_limiter(app: Flask) -> None:
    """Register before Flask-Limiter: Flask runs after-request hooks in reverse order, so this one runs after
    the limiter has added its headers, and takes them off any 200 that shared caches may keep (public)."""

    @app.after_request
    def drop_quota_headers(response):
        if response.status_code == 200 and "public" in response.headers.get("Cache-Control", ""):
            for name in QUOTA_HEADERS:
                response.headers.pop(name, None)
        return response


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
        if not app.config["SECURITY_HEADERS_AT_EDGE"]:
            for name, value in EDGE_HEADERS:
                h.setdefault(name, value)
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        if session.modified or session.get("_user_id"):
            h["Cache-Control"] = "private, no-store"
        elif request.method in ("GET", "HEAD") and request.endpoint in cache.POLICIES:
            _public_page_headers(app, response)
        return response


def _public_page_headers(app: Flask, response) -> None:
    """Anonymous allowlisted pages: Cache-Control for shared caches, Vary: Cookie, and the page ETag."""
    h = response.headers
    if "Cookie" not in h.get("Vary", ""):
        h.add("Vary", "Cookie")
    if request.endpoint in cache.FEEDS or response.status_code != 200 or "Set-Cookie" in h:
        return
    middleware = app.extensions.get("render_cache")
    if middleware is None:
        return
    token = middleware.reader.get()
    h["Cache-Control"] = app.config["PAGE_CACHE_CONTROL_CRISIS" if token.crisis_mode else "PAGE_CACHE_CONTROL"]
    path_qs = cache.path_key(request.path, request.query_string.decode("latin-1"))
    h["ETag"] = cache.page_etag(token.key, path_qs, app.config["CACHE_BUILD"], cache.origin_key(request.environ))
