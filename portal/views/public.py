"""Public pages: the home page and the Markdown pages from content/pages."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template

from portal.extensions import db
from portal.markup import render_markdown
from portal.models import SiteState
from portal.services.board import listing
from portal.services.bulletins import bulletin_read
from portal.services.bulletins.publishing import pinned_incident
from portal.timeutil import utcnow

bp = Blueprint("public", __name__)

CONTENT_DIR = Path(__file__).resolve().parents[2] / "content"
_SLUG = re.compile(r"^[a-z0-9-]{1,40}$")


@lru_cache(maxsize=32)
def _load_page(path: str, mtime: float) -> tuple[str, str]:
    text = Path(path).read_text(encoding="utf-8")
    lines = text.splitlines()
    title = lines[0].lstrip("# ").strip() if lines and lines[0].startswith("#") else ""
    body = "\n".join(lines[1:]) if title else text
    return title, render_markdown(body)


def content_page(slug: str) -> tuple[str, str] | None:
    """The title and sanitised HTML of content/pages/<slug>.md, or None."""
    if not _SLUG.match(slug):
        return None
    pages_dir = Path(current_app.config.get("CONTENT_DIR") or CONTENT_DIR) / "pages"
    path = pages_dir / f"{slug}.md"
    if not path.is_file():
        return None
    return _load_page(str(path), path.stat().st_mtime)


@bp.get("/")
def home():
    """Latest published answers and the ways in."""
    latest = listing.latest_published(db.session, limit=10)
    lead, lead_updates = None, []
    state = db.session.get(SiteState, 1)
    if state is not None and state.crisis_mode:
        # Crisis mode: the page leads with the pinned incident and its latest visible updates.
        pinned = pinned_incident(db.session)
        if pinned is not None:
            lead = bulletin_read.get_incident_by_id(db.session, pinned.id)
            lead_updates = lead.visible_updates(utcnow())[:3] if lead else []
    return render_template("public/home.html", latest=latest, lead=lead, lead_updates=lead_updates, now=utcnow())


@bp.get("/pages/<slug>")
def page(slug: str):
    """About, posting rules, privacy: Markdown from content/pages, sanitised."""
    found = content_page(slug)
    if found is None:
        abort(404)
    title, html = found
    return render_template("public/page.html", title=title, html=html)
