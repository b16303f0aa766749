"""The media page: every feed, the JSON API and e-mail subscription, in one place."""

from __future__ import annotations

from flask import Blueprint, render_template

from portal.extensions import db
from portal.models.press import RELEASE_TYPES
from portal.services.board import listing
from portal.services.bulletins import bulletin_read

bp = Blueprint("media", __name__)


@bp.get("/media")
def media():
    """Feed URLs (bulletins, per incident, answers per department), the API and how to subscribe by e-mail."""
    return render_template(
        "media/index.html",
        incidents=bulletin_read.list_incidents(db.session),
        departments=listing.departments(db.session),
        release_types=RELEASE_TYPES,
    )
