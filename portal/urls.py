"""Canonical absolute URLs: every link that leaves the site is built from PORTAL_BASE_URL, never the Host header.

Mail bodies, List-Unsubscribe, WebSub topics and pings, feed self links, the calendar and the API all call
`external_url`, which builds on the app's URL map bound to the configured base (scheme, host and path prefix),
inside a request or outside one (the worker). A forged `Host:` cannot reach any of them.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from flask import Flask, current_app, request
from werkzeug.routing import MapAdapter

from portal.models import Release, Subscription, Update

_ADAPTER = "canonical_url_adapter"


def base_url(app: Flask | None = None) -> str:
    """The configured base, without a trailing slash (http://localhost only in debug/testing, where it may be unset)."""
    app = app or current_app
    return str(app.config.get("BASE_URL") or "http://localhost").rstrip("/")


def _adapter(app: Flask) -> MapAdapter:
    adapter = app.extensions.get(_ADAPTER)
    if adapter is None:
        parts = urlsplit(base_url(app))
        adapter = app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme or "https")
        app.extensions[_ADAPTER] = adapter
    return adapter


def external_url(endpoint: str, _anchor: str | None = None, **values) -> str:
    """The absolute URL of `endpoint` under PORTAL_BASE_URL (None values are left out, as url_for does)."""
    app = current_app
    url = _adapter(app).build(endpoint, {k: v for k, v in values.items() if v is not None}, force_external=True)
    if _anchor:
        url += "#" + quote(_anchor, safe="")
    return url


def current_external_url() -> str:
    """The URL of the current request (path and query) under PORTAL_BASE_URL: a feed's self link."""
    query = request.query_string.decode("latin-1")
    return base_url() + request.path + (f"?{query}" if query else "")


class UrlLinks:
    """notifications.Links from the configured base URL: the same inside a request and in the worker."""

    def update_page(self, update: Update) -> str:
        return external_url("incidents.detail", slug=update.incident.slug, _anchor=update.anchor)

    def unsubscribe(self, sub: Subscription) -> str:
        return external_url("subscribe.unsubscribe", token=sub.token)

    def confirm(self, sub: Subscription) -> str:
        return external_url("subscribe.confirm", token=sub.token)

    def question_page(self, number: str) -> str:
        return external_url("questions.detail", number=number)

    def feeds_for(self, update: Update) -> list[str]:
        slug = update.incident.slug
        return [
            external_url("feeds.bulletins_rss"),
            external_url("feeds.bulletins_atom"),
            external_url("feeds.incident_rss", slug=slug),
            external_url("feeds.incident_atom", slug=slug),
        ]

    def release_page(self, release: Release) -> str:
        return external_url("news.detail", slug=release.slug)

    def release_feeds(self, release: Release) -> list[str]:
        return [
            external_url("news.feed_rss"),
            external_url("news.feed_atom"),
            external_url("news.type_feed_rss", type_=release.type),
            external_url("news.type_feed_atom", type_=release.type),
        ]
