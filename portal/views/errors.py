"""Error pages: a clear Chinese message and the right status, never a stack trace."""

from __future__ import annotations

from flask import Flask, flash, redirect, render_template, request
from flask_login import current_user
from flask_login.utils import login_url
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from portal.errors import PortalError
from portal.extensions import db, login_manager
from portal.views.kept import kept_page

MESSAGES = {
    400: ("请求有误", "提交的内容无法处理，请返回检查后重试。"),
    401: ("需要登录", "请先登录。"),
    403: ("无权访问", "您没有权限访问这个页面。"),
    404: ("页面不存在", "您要找的页面不存在，可能已被移除或地址有误。"),
    405: ("请求方式不支持", "这个页面不支持这种请求方式。"),
    410: ("内容已删除", "您要找的内容已被发布单位删除，不再提供。"),
    413: ("内容过大", "提交的内容超过了大小限制，请精简后重试。"),
    414: ("地址过长", "请求地址过长。"),
    429: ("操作过于频繁", "操作过于频繁，请稍后再试。"),
    431: ("请求头过大", "请求头过大。"),
    500: ("服务器错误", "服务器暂时无法处理您的请求，请稍后再试。您提交的内容如已显示成功，则不会丢失。"),
    503: ("服务暂不可用", "系统繁忙或正在维护，请稍后再试。"),
}
CSRF_MESSAGE = "页面已过期或缺少安全校验，内容未提交。请确认下面的内容后重新提交。"
SESSION_ENDED_MESSAGE = "登录已失效，内容未提交。请确认下面的内容，重新登录后再提交。"


def error_page(code: int, message: str | None = None):
    """Render the error page for `code`."""
    title, default = MESSAGES.get(code, MESSAGES[500 if code >= 500 else 400])
    return render_template("errors/error.html", code=code, title=title, message=message or default), code


API_PREFIX = "/api/"


def _api_error(code: int, message: str | None = None, exc: HTTPException | None = None):
    """The same error as JSON for the API (its clients parse JSON; the OpenAPI document says so)."""
    from portal.views.api import json_error

    title, default = MESSAGES.get(code, MESSAGES[500 if code >= 500 else 400])
    return json_error(code, message or default, _protocol_headers(exc))


def _protocol_headers(exc: HTTPException | None) -> dict[str, str]:
    """Headers the status requires: Allow on 405 (RFC 9110 15.5.6), Retry-After where the error gives one."""
    if exc is None:
        return {}
    return {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after")}


def _page(code: int, message: str | None = None, exc: HTTPException | None = None):
    """The error for this request: JSON under /api/, else the HTML page, with the protocol headers."""
    if request.path.startswith(API_PREFIX):
        return _api_error(code, message, exc)
    body, status = error_page(code, message)
    return body, status, _protocol_headers(exc)


def register(app: Flask) -> None:
    """Install the handlers."""

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        # Keep what the citizen typed: the ask form comes back filled in, with a fresh token.
        if request.endpoint == "questions.ask":
            from portal.views.questions import _ask_form, render_ask

            return render_ask(_ask_form(), [CSRF_MESSAGE], 400)
        # Every other form: what was typed comes back below the message, to copy (portal/views/kept.py).
        kept = kept_page(400, CSRF_MESSAGE, signed_out=not current_user.is_authenticated)
        return kept or error_page(400, CSRF_MESSAGE)

    @login_manager.unauthorized_handler
    def unauthorized():
        # A POST after the session ended (timed out, or signed out elsewhere) keeps what was typed; the rest go to
        # the login page as Flask-Login would send them.
        if request.method == "POST" and (kept := kept_page(401, SESSION_ENDED_MESSAGE, signed_out=True)):
            return kept
        if login_manager.login_message:
            flash(login_manager.login_message, category=login_manager.login_message_category)
        return redirect(login_url(login_manager.login_view, next_url=request.url))

    @app.errorhandler(OperationalError)
    def database_unavailable(exc: OperationalError):
        # Full disk, a lock held too long, a lost connection: the write did not happen; say so, with a 503.
        app.logger.exception("database error on %s %s", request.method, request.path)
        db.session.rollback()
        return _page(503, "系统暂时无法保存您的操作（存储繁忙或已满），操作未生效，请稍后再试。浏览页面不受影响。")

    @app.errorhandler(PortalError)
    def portal_error(exc: PortalError):
        db.session.rollback()
        return _page(exc.status_code, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        if code == 429:
            return _page(429, f"操作过于频繁，请稍后再试（限制：{exc.description}）。", exc)
        return _page(code, None, exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return _page(500)
