"""The crisis-communication portal: create_app is the one composition root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import config as portal_config


def _sqlite_pragmas(synchronous: str, max_page_count: int | None = None):
    def on_connect(dbapi_connection, connection_record) -> None:  # noqa: ARG001
        cursor = dbapi_connection.cursor()
        if max_page_count:  # a size cap (fault drills reproduce a full disk with it)
            cursor.execute(f"PRAGMA max_page_count={int(max_page_count)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    return on_connect


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints, filters and error pages."""
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)

    app.config.from_mapping(portal_config.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(portal_config.from_environment(os.environ))
    if test_config:
        app.config.update(test_config)
    relaxed = bool(app.debug or app.testing or app.config.get("TESTING"))
    portal_config.ensure_secret_key(app.config, app.instance_path, relaxed=relaxed)
    portal_config.ensure_base_url(app.config, relaxed=relaxed)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "portal.db")
    if not app.config.get("SEARCH_INDEX_DIR"):
        app.config["SEARCH_INDEX_DIR"] = str(Path(app.instance_path).parent / "search_index")
    if not app.config.get("UPLOAD_DIR"):
        app.config["UPLOAD_DIR"] = os.path.join(app.instance_path, "uploads")
    if not app.config.get("EXPORT_DIR"):
        app.config["EXPORT_DIR"] = os.path.join(app.instance_path, "exports")
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}

    _init_extensions(app)
    _init_search(app)
    _register_blueprints(app)
    _register_template_helpers(app)
    _init_render_cache(app)
    if int(app.config["PROXY_COUNT"]) > 0:
        # Outside the render cache, so the cache keys on the scheme and host the proxy reports, as the views see them.
        n = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    from portal import jobs, pagetree

    pagetree.init_app(app)
    jobs.init_app(app)

    from portal import cli

    cli.register(app)
    return app


def _init_extensions(app: Flask) -> None:
    from portal.extensions import csrf, db, limiter, login_manager, migrate
    from portal.services.accounts.signin import configure_hasher, load_by_token
    from portal.views import security

    configure_hasher(
        int(app.config["ARGON2_TIME_COST"]), int(app.config["ARGON2_MEMORY_KIB"]), int(app.config["ARGON2_PARALLELISM"])
    )
    db.init_app(app)
    migrations = str(Path(__file__).parent / "migrations")
    migrate.init_app(app, db, directory=migrations, render_as_batch=True)
    csrf.init_app(app)
    security.register_before_limiter(app)  # before the limiter, so it runs after the limiter's own hook
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录。"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(token: str):
        return load_by_token(db.session, token)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(
                db.engine,
                "connect",
                _sqlite_pragmas(app.config["SQLITE_SYNCHRONOUS"], app.config.get("SQLITE_MAX_PAGE_COUNT")),
            )


def _init_search(app: Flask) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from portal import search
    from portal.extensions import db
    from portal.search.indexer import ensure_thread, load_user_dictionary

    search.init_app(app)
    content = Path(app.config.get("CONTENT_DIR") or Path(app.root_path).parent / "content")
    with app.app_context():
        try:
            load_user_dictionary(db.session, content)
        except SQLAlchemyError:  # a database not migrated yet: `flask init-db` comes first
            db.session.rollback()
        finally:
            db.session.remove()

    if app.config["SEARCH_INDEXER_THREAD"]:

        @app.before_request
        def start_indexer() -> None:
            ensure_thread(app)


def _build_fingerprint() -> str:
    """The package version and the newest template/static/code file time: the same in every preloaded worker."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("portal")
    except PackageNotFoundError:
        release = "dev"
    root = Path(__file__).parent
    newest = max((p.stat().st_mtime for p in root.rglob("*") if p.suffix in {".py", ".html", ".css", ".js"}),
                 default=0.0)
    return f"{release}-{int(newest)}"


def _init_render_cache(app: Flask) -> None:
    from portal import cache
    from portal.extensions import db
    from portal.services.ops import site

    site.install()
    if not app.config.get("CACHE_BUILD"):
        app.config["CACHE_BUILD"] = _build_fingerprint()
    engine = {}

    def get_engine():
        if "e" not in engine:
            with app.app_context():
                engine["e"] = db.engine
        return engine["e"]

    reader = site.TokenReader(get_engine, float(app.config["CACHE_VERSION_TTL"]))
    site.on_bump(reader.invalidate)
    store = cache.make_store(str(app.config["CACHE_URL"]), int(app.config["CACHE_MAX_ENTRIES"]))
    middleware = cache.RenderCache(app, reader, store)
    app.extensions["render_cache"] = middleware
    app.wsgi_app = middleware  # type: ignore[method-assign]


def _register_blueprints(app: Flask) -> None:
    from portal.views import (
        api,
        auth,
        errors,
        feeds,
        incidents,
        media,
        news,
        public,
        questions,
        search,
        security,
        stats,
        subscribe,
        track,
    )
    from portal.views.staff import bp as staff_bp
    from portal.views.staff import crisis as _staff_crisis  # noqa: F401  (adds its routes to staff_bp)
    from portal.views.staff import subscriptions as _staff_subscriptions  # noqa: F401  (adds its routes to staff_bp)
    from portal.views.staff.bulletins import incidents as _staff_bulletins  # noqa: F401  (adds its routes to staff_bp)
    from portal.views.staff.press import conferences as _staff_press_room  # noqa: F401  (adds its routes to staff_bp)
    from portal.views.staff.press import releases as _staff_press  # noqa: F401  (adds its routes to staff_bp)
    from portal.views.staff.watch import capture as _staff_watch_capture  # noqa: F401  (adds its routes to staff_bp)
    from portal.views.staff.watch import channels as _staff_watch_channels  # noqa: F401  (adds its routes to staff_bp)
    from portal.views.staff.watch import desk as _staff_watch_desk  # noqa: F401  (adds its routes to staff_bp)
    from portal.views.staff.watch import manage as _staff_watch_manage  # noqa: F401  (adds its routes to staff_bp)

    for module in (public, questions, track, auth, search, incidents, feeds, subscribe, api, stats, media, news):
        app.register_blueprint(module.bp)
    app.register_blueprint(staff_bp)
    errors.register(app)
    security.register(app)


def _register_template_helpers(app: Flask) -> None:
    from portal.markup import markdown_markup, plain_paragraphs
    from portal.models.question import CATEGORIES
    from portal.timeutil import format_duration, to_beijing
    from portal.urls import external_url

    def bjt(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return to_beijing(value).strftime(fmt) if value else ""

    def iso(value) -> str:
        return to_beijing(value).isoformat(timespec="seconds") if value else ""

    app.jinja_env.filters.update(
        bjt=bjt, iso=iso, duration=format_duration, markdown=markdown_markup, paragraphs=plain_paragraphs
    )
    app.jinja_env.globals["external_url"] = external_url

    @app.context_processor
    def site_globals() -> dict[str, Any]:
        return {
            "site_name": app.config["SITE_NAME"],
            "office_name": app.config["OFFICE_NAME"],
            "categories": CATEGORIES,
        }

