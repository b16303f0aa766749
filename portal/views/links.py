"""Absolute URLs for e-mails and WebSub pings, and the after-commit announcement of a publication."""

from __future__ import annotations

from flask import Flask, current_app, url_for

from portal.extensions import db
from portal.models import Release, Subscription, Update
from portal.services.bulletins import notifications
from portal.services.ops.mailer import SmtpSettings


class UrlLinks:
    """notifications.Links built on url_for (needs a request context, real or from BASE_URL)."""

    def update_page(self, update: Update) -> str:
        return url_for("incidents.detail", slug=update.incident.slug, _external=True, _anchor=update.anchor)

    def unsubscribe(self, sub: Subscription) -> str:
        return url_for("subscribe.unsubscribe", token=sub.token, _external=True)

    def feeds_for(self, update: Update) -> list[str]:
        slug = update.incident.slug
        return [
            url_for("feeds.bulletins_rss", _external=True),
            url_for("feeds.bulletins_atom", _external=True),
            url_for("feeds.incident_rss", slug=slug, _external=True),
            url_for("feeds.incident_atom", slug=slug, _external=True),
        ]

    def release_page(self, release: Release) -> str:
        return url_for("news.detail", slug=release.slug, _external=True)

    def release_feeds(self, release: Release) -> list[str]:
        return [
            url_for("news.feed_rss", _external=True),
            url_for("news.feed_atom", _external=True),
            url_for("news.type_feed_rss", type_=release.type, _external=True),
            url_for("news.type_feed_atom", type_=release.type, _external=True),
        ]


def announce(update: Update) -> None:
    """After the commit: ping the hub and mail subscribers; any failure is logged and the send stays pending."""
    if not update.is_visible() or update.withdrawn_at is not None:
        return
    config = current_app.config
    try:
        notifications.notify(
            db.session, update, UrlLinks(), SmtpSettings.from_config(config), config["WEBSUB_HUB"], config["SITE_NAME"]
        )
    except Exception:  # noqa: BLE001 - the bulletin is committed; notification problems must not surface here
        db.session.rollback()
        current_app.logger.exception("announcing update %s failed; it stays pending", update.id)


def announce_release(release: Release) -> None:
    """After the commit of a release (or its correction): ping the hub and mail release subscribers."""
    if not release.is_visible() or release.withdrawn_at is not None:
        return
    config = current_app.config
    try:
        notifications.notify_release(
            db.session, release, UrlLinks(), SmtpSettings.from_config(config), config["WEBSUB_HUB"],
            config["SITE_NAME"],
        )
    except Exception:  # noqa: BLE001 - the release is committed; notification problems must not surface here
        db.session.rollback()
        current_app.logger.exception("announcing release %s failed; it stays pending", release.id)


def ping_release_feeds(release: Release) -> None:
    """After a withdrawal: the release feeds changed (the entry is re-issued as 【已撤回】); no e-mail is sent."""
    if release.is_visible():
        notifications.ping_hub(current_app.config["WEBSUB_HUB"], UrlLinks().release_feeds(release))


def send_due(app: Flask) -> notifications.Outcome:
    """Announce pending updates outside a request (flask send-due-notifications)."""
    base = app.config.get("BASE_URL") or "http://localhost"
    with app.test_request_context("/", base_url=base):
        config = app.config
        return notifications.send_due(
            db.session, UrlLinks(), SmtpSettings.from_config(config), config["WEBSUB_HUB"], config["SITE_NAME"]
        )
