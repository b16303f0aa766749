"""Public incident pages, and the crisis banner on every page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, render_template

from portal.extensions import db
from portal.services.bulletins import bulletin_read
from portal.services.bulletins.publishing import pinned_incident
from portal.services.press import press_read
from portal.timeutil import utcnow

bp = Blueprint("incidents", __name__)


@bp.app_context_processor
def crisis_banner():
    """The pinned incident for base.html, looked up once per request (templates never query)."""
    if "crisis_banner" not in g:
        try:
            g.crisis_banner = pinned_incident(db.session)
        except Exception:  # noqa: BLE001 - an error page must render even when the database is down
            current_app.logger.exception("crisis banner lookup failed")
            db.session.rollback()
            g.crisis_banner = None
    return {"crisis_banner": g.crisis_banner}


@bp.get("/incidents")
def index():
    """Every incident, active ones first."""
    return render_template("incidents/index.html", incidents=bulletin_read.list_incidents(db.session), now=utcnow())


@bp.get("/incidents/<slug>")
def detail(slug: str):
    """One incident's timeline, newest first, an anchor per update; the press releases linked to it."""
    incident = bulletin_read.get_incident(db.session, slug)
    if incident is None:
        abort(404)
    now = utcnow()
    return render_template("incidents/detail.html", incident=incident, updates=incident.visible_updates(now), now=now,
                           releases=press_read.releases_for_incident(db.session, incident.id, now))
