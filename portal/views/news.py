"""The public press room: releases (/news), their feeds, attachments, the conference calendar and who to call."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, render_template, request, send_file, url_for

from portal import feeds, press_feeds
from portal.extensions import db
from portal.models.press import RELEASE_TYPES
from portal.numbers import page_count
from portal.services.press import ics, press_read, uploads
from portal.timeutil import utcnow
from portal.urls import current_external_url, external_url
from portal.views.errors import error_page
from portal.views.feeds import serve
from portal.views.subscribe import RELEASES_CHOICE

bp = Blueprint("news", __name__)

ICS_TYPE = "text/calendar; charset=utf-8"
# Short, so a withdrawn release's or a removed file stops being served by browsers and nginx within five minutes;
# nginx revalidates with the ETag, so a file is sent again only when it changed.
ATTACHMENT_MAX_AGE = 300
# An attachment is never a page: nothing in it may run, even if a browser ignored the Content-Type.
ATTACHMENT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def attachment_url(attachment, small: bool = False, external: bool = False) -> str:
    """The public URL of an attachment (or of its phone rendition)."""
    endpoint = "news.attachment_small" if small and attachment.rendition_name else "news.attachment"
    if external:
        return external_url(endpoint, attachment_id=attachment.id, name=attachment.filename)
    return url_for(endpoint, attachment_id=attachment.id, name=attachment.filename)


@bp.app_context_processor
def press_helpers():
    return {"attachment_url": attachment_url, "release_types": RELEASE_TYPES, "releases_scope": RELEASES_CHOICE}


@bp.get("/news")
def index():
    """Visible releases, newest first, filtered by type, topic and month."""
    args = request.args
    filters = press_read.clean_filters(args.get("type", ""), args.get("topic", ""), args.get("month", "")[:7],
                                       args.get("page", "1")[:6])
    now = utcnow()
    releases, total = press_read.list_releases(db.session, filters, now)
    pages = page_count(total, press_read.PAGE_SIZE)
    return render_template("news/index.html", releases=releases, total=total, filters=filters, pages=pages,
                           topics=press_read.topics_in_use(db.session, now))


@bp.get("/news/<slug>")
def detail(slug: str):
    """One release: the text (rumour and facts for a rebuttal), images, documents, public corrections; a withdrawn
    one stays at its URL with 已撤回, the time and the reason instead of its text."""
    release = press_read.get_release(db.session, slug)
    if release is None:
        abort(404)
    return render_template("news/detail.html", release=release)


def _release_feed(kind: str, type_: str = "") -> Response:
    if type_ and type_ not in RELEASE_TYPES:
        abort(404)
    now = utcnow()
    version = press_read.releases_version(db.session, type_, now=now)
    config = current_app.config

    def body() -> bytes:
        rows = press_read.feed_releases(db.session, int(config["FEED_ITEMS"]), type_, now=now)
        label = RELEASE_TYPES[type_] if type_ else "新闻发布"
        meta = feeds.FeedMeta(
            id=feeds.tag_uri(config["FEED_TAG_AUTHORITY"], f"press/{type_ or 'all'}"),
            title=f"{config['SITE_NAME']} · {label}", subtitle=f"{config['OFFICE_NAME']}发布的{label}",
            self_url=current_external_url(), alternate_url=external_url("news.index", type=type_ or None),
            updated=version.last_modified, author=config["OFFICE_NAME"], hub=config["WEBSUB_HUB"],
        )
        items = press_feeds.release_items(
            rows, config["FEED_TAG_AUTHORITY"], lambda r: external_url("news.detail", slug=r.slug),
            lambda a: attachment_url(a, external=True),
        )
        return feeds.build(meta, items, kind)

    return serve(version, kind, body)


@bp.get("/news/feed.rss")
def feed_rss():
    """All releases, RSS 2.0."""
    return _release_feed("rss")


@bp.get("/news/feed.atom")
def feed_atom():
    """All releases, Atom."""
    return _release_feed("atom")


@bp.get("/news/<type_>/feed.rss")
def type_feed_rss(type_: str):
    """Releases of one type, RSS 2.0."""
    return _release_feed("rss", type_)


@bp.get("/news/<type_>/feed.atom")
def type_feed_atom(type_: str):
    """Releases of one type, Atom."""
    return _release_feed("atom", type_)


def content_disposition(kind: str, filename: str, attachment_id: int) -> str:
    """RFC 6266: an ASCII fallback name for old clients and the real (UTF-8) name in filename*."""
    stem, _, ext = filename.rpartition(".")
    fallback = stem.encode("ascii", "ignore").decode().strip("._- ")
    fallback = f"{fallback or f'attachment-{attachment_id}'}.{ext}"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _send(attachment, stored_name: str) -> Response:
    try:
        path = uploads.path_of(current_app.config["UPLOAD_DIR"], stored_name)
    except ValueError:
        abort(404)
    if not path.is_file():
        current_app.logger.error("attachment %s: stored file %s is missing", attachment.id, stored_name)
        abort(404)
    response = send_file(
        path, mimetype=attachment.mime, conditional=True, etag=f"{attachment.sha256[:32]}-{stored_name[:8]}",
        max_age=ATTACHMENT_MAX_AGE,
    )
    response.headers["Content-Disposition"] = content_disposition(
        "inline" if attachment.kind == "image" else "attachment", attachment.filename, attachment.id
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = ATTACHMENT_CSP
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@bp.get("/attachments/<int:attachment_id>/<name>")
def attachment(attachment_id: int, name: str):
    """A release's file as uploaded (images re-encoded without metadata)."""
    found = press_read.visible_attachment(db.session, attachment_id)
    if found is None:
        abort(404)
    gone = press_read.gone_message(found)
    if gone:
        return error_page(410, gone)
    return _send(found, found.stored_name)


@bp.get("/attachments/<int:attachment_id>/m/<name>")
def attachment_small(attachment_id: int, name: str):
    """The phone rendition of an image (at most UPLOAD_RENDITION_PX on its longest side)."""
    found = press_read.visible_attachment(db.session, attachment_id)
    if found is None or found.kind != "image":
        abort(404)
    gone = press_read.gone_message(found)
    if gone:
        return error_page(410, gone)
    return _send(found, found.rendition_name or found.stored_name)


@bp.get("/press/conferences")
def conferences():
    """Upcoming conferences (soonest first) and past ones."""
    upcoming, past = press_read.conferences(db.session)
    return render_template("press/conferences.html", upcoming=upcoming, past=past)


@bp.get("/press/conferences.ics")
def conferences_ics():
    """The calendar feed (iCalendar) that calendar apps subscribe to."""
    version = press_read.conferences_version(db.session)
    config = current_app.config

    def body() -> bytes:
        return ics.build_calendar(
            press_read.calendar_conferences(db.session), f"{config['SITE_NAME']} · 新闻发布会",
            config["FEED_TAG_AUTHORITY"],
            lambda c: external_url("news.conferences", _anchor=c.anchor),
        )

    response = serve(version, "ics", body, content_type=ICS_TYPE)
    response.headers["Content-Disposition"] = 'inline; filename="conferences.ics"'
    return response


@bp.get("/press/contacts")
def contacts():
    """Who to call: spokespersons and press contacts per department, and every feed for the media."""
    return render_template("press/contacts.html", directory=press_read.directory(db.session))
