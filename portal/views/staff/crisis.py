"""The admin's crisis switches: crisis mode (home leads with the pinned incident, costly pages degrade) and
question intake (open or paused). Both are stored in the site state row and audited."""

from __future__ import annotations

from flask import current_app, redirect, render_template, url_for
from flask_login import current_user
from wtforms import BooleanField, StringField, SubmitField

from portal.errors import ValidationFailed
from portal.extensions import db
from portal.models.staff import ROLE_ADMIN
from portal.services.bulletins.publishing import pinned_incident
from portal.services.ops import site
from portal.views.common import apply_reasons, roles_required
from portal.views.forms import PortalForm, TextLength, strip
from portal.views.staff import bp


class CrisisForm(PortalForm):
    """Two switches."""

    crisis_mode = BooleanField("危机模式（首页以置顶事件开头；检索和统计页面使用较长缓存）")
    intake_paused = BooleanField("暂停接收网友留言（留言页显示通知，提交返回 503）")
    reason = StringField("切换原因（必填，记入操作日志）", filters=[strip],
                         validators=[TextLength(max=500, message="不超过 500 个字。")])
    submit = SubmitField("保存")


@bp.route("/crisis", methods=["GET", "POST"])
@roles_required(ROLE_ADMIN)
def crisis():
    """Show and change the crisis switches."""
    state = site.get_state(db.session)
    form = CrisisForm(data={"crisis_mode": bool(state.crisis_mode), "intake_paused": bool(state.intake_paused)})
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            site.set_switches(db.session, current_user, bool(form.crisis_mode.data), bool(form.intake_paused.data),
                              form.reason.data or "")
        except ValidationFailed as exc:
            db.session.rollback()
            errors = apply_reasons(form, exc.reasons)
            state = site.get_state(db.session)
        else:
            middleware = current_app.extensions.get("render_cache")
            if middleware is not None:
                middleware.reader.invalidate()
            return redirect(url_for("staff.crisis"), 303)
    status = 400 if form.errors or errors else 200
    return render_template("staff/crisis.html", form=form, state=state, pinned=pinned_incident(db.session),
                           errors=errors), status
