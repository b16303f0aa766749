"""The admin's view of mail subscriptions suspended after repeated bounces, with a button to lift each."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.errors import PortalError
from portal.extensions import db
from portal.models import Subscription
from portal.models.staff import ROLE_ADMIN
from portal.services.bulletins import subscriptions
from portal.views.common import roles_required
from portal.views.forms import CsrfForm
from portal.views.staff import bp


@bp.get("/subscriptions/suspended")
@roles_required(ROLE_ADMIN)
def suspended_subscriptions():
    """Subscriptions whose mails bounced too often in a row: the address, the last refusal, when."""
    rows = subscriptions.suspended(db.session)
    return render_template("staff/subscriptions.html", rows=rows, form=CsrfForm(formdata=None))


@bp.post("/subscriptions/<int:subscription_id>/reinstate")
@roles_required(ROLE_ADMIN)
def reinstate_subscription(subscription_id: int):
    """Lift a suspension (audited): the subscription receives mail again."""
    if not CsrfForm().validate():
        abort(400)
    sub = db.session.get(Subscription, subscription_id)
    if sub is None:
        abort(404)
    try:
        subscriptions.lift_suspension(db.session, current_user, sub)
    except PortalError as exc:
        db.session.rollback()
        abort(exc.status_code)
    flash(f"已恢复 {sub.email} 的订阅。", "info")
    return redirect(url_for("staff.suspended_subscriptions"), 303)
