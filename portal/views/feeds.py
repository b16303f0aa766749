"""RSS and Atom feeds with ETag, Last-Modified, conditional GET (304), Cache-Control and WebSub Link headers."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, abort, current_app, request
from werkzeug.http import is_resource_modified

from portal import feeds
from portal.extensions import db
from portal.services.board import listing
from portal.services.bulletins import bulletin_read
from portal.services.bulletins.bulletin_read import ContentVersion
from portal.timeutil import utcnow
from portal.urls import current_external_url, external_url

bp = Blueprint("feeds", __name__)


def serve(version: ContentVersion, kind: str, body: Callable[[], bytes], content_type: str = "") -> Response:
    """A feed response; 304 when the client's ETag or date still matches (the body is not even built)."""
    response = Response(status=200, mimetype=None)
    response.headers["Content-Type"] = content_type or (feeds.RSS_TYPE if kind == "rss" else feeds.ATOM_TYPE)
    response.set_etag(version.etag)
    # Last-Modified has one-second resolution: while the newest change's second is still running, another
    # publication could land in it unseen by If-Modified-Since, so the header is sent only once that second
    # is over (ETag covers the gap).
    newest_second = version.last_modified.replace(microsecond=0)
    if utcnow().replace(microsecond=0) > newest_second:
        response.last_modified = newest_second
    config = current_app.config
    response.headers["Cache-Control"] = (f"public, max-age={int(config['FEED_MAX_AGE'])}, "
                                         f"s-maxage={int(config['FEED_SHARED_MAX_AGE'])}")
    hub = current_app.config["WEBSUB_HUB"]
    if hub:
        response.headers["Link"] = f'<{hub}>; rel="hub", <{current_external_url()}>; rel="self"'
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2); werkzeug applies that order.
    if not is_resource_modified(request.environ, etag=version.etag, last_modified=version.last_modified):
        response.status_code = 304
        return response
    response.set_data(body())
    return response


def _meta(feed_id: str, title: str, subtitle: str, alternate: str, version: ContentVersion) -> feeds.FeedMeta:
    config = current_app.config
    return feeds.FeedMeta(
        id=feeds.tag_uri(config["FEED_TAG_AUTHORITY"], feed_id), title=title, subtitle=subtitle,
        self_url=current_external_url(), alternate_url=alternate, updated=version.last_modified,
        author=config["OFFICE_NAME"], hub=config["WEBSUB_HUB"],
    )


def _update_link(update) -> str:
    return external_url("incidents.detail", slug=update.incident.slug, _anchor=update.anchor)


def _all_bulletins(kind: str) -> Response:
    now = utcnow()
    version = bulletin_read.bulletins_version(db.session, now=now)
    config = current_app.config

    def body() -> bytes:
        updates = bulletin_read.feed_updates(db.session, int(config["FEED_ITEMS"]), now=now)
        meta = _meta("bulletins", f"{config['SITE_NAME']} · 突发事件通报", "全部突发事件通报和新闻发布会预告",
                     external_url("incidents.index"), version)
        return feeds.build(meta, feeds.update_items(updates, config["FEED_TAG_AUTHORITY"], _update_link), kind)

    return serve(version, kind, body)


def _one_incident(slug: str, kind: str) -> Response:
    incident = bulletin_read.get_incident(db.session, slug)
    if incident is None:
        abort(404)
    now = utcnow()
    version = bulletin_read.bulletins_version(db.session, incident.id, now=now)
    config = current_app.config

    def body() -> bytes:
        updates = bulletin_read.feed_updates(db.session, int(config["FEED_ITEMS"]), incident.id, now=now)
        meta = _meta(f"incident/{incident.id}", f"{incident.title} · 通报", f"{incident.title}的全部通报",
                     external_url("incidents.detail", slug=incident.slug), version)
        items = feeds.update_items(updates, config["FEED_TAG_AUTHORITY"], _update_link, with_incident=False)
        return feeds.build(meta, items, kind)

    return serve(version, kind, body)


@bp.get("/feeds/bulletins.rss")
def bulletins_rss():
    """All bulletins, RSS 2.0."""
    return _all_bulletins("rss")


@bp.get("/feeds/bulletins.atom")
def bulletins_atom():
    """All bulletins, Atom."""
    return _all_bulletins("atom")


@bp.get("/incidents/<slug>/feed.rss")
def incident_rss(slug: str):
    """One incident's bulletins, RSS 2.0."""
    return _one_incident(slug, "rss")


@bp.get("/incidents/<slug>/feed.atom")
def incident_atom(slug: str):
    """One incident's bulletins, Atom."""
    return _one_incident(slug, "atom")


@bp.get("/feeds/answers.atom")
def answers_atom():
    """Published answers, Atom; ?department=<slug> narrows to one department."""
    slug = request.args.get("department", "")[:40]
    department = None
    if slug:
        department = next((d for d in listing.departments(db.session) if d.slug == slug), None)
        if department is None:
            abort(404)
    version = bulletin_read.answers_version(db.session, department)
    config = current_app.config

    def body() -> bytes:
        rows = bulletin_read.published_answers(db.session, int(config["FEED_ITEMS"]), department)
        name = department.name if department else "全部部门"
        alternate = external_url("questions.board_page", department=department.slug if department else None)
        feed_id = f"answers/{department.slug if department else 'all'}"
        meta = _meta(feed_id, f"{config['SITE_NAME']} · 留言答复（{name}）", f"{name}公开答复的网友留言", alternate,
                     version)
        items = feeds.answer_items(
            rows, config["FEED_TAG_AUTHORITY"],
            lambda q: external_url("questions.detail", number=q.number), config["OFFICE_NAME"],
        )
        return feeds.build(meta, items, "atom")

    return serve(version, "atom", body)
