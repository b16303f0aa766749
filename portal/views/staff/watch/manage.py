"""Sources (with health and fetch log) and plans: the office manages them on screen."""

from __future__ import annotations

from flask import abort, current_app, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.errors import NotFound, PortalError, ValidationFailed
from portal.extensions import db
from portal.models import Department
from portal.models.staff import ROLE_ADMIN, ROLE_OFFICE
from portal.models.watch import PLATFORMS, REGIONS, SEVERITIES, WatchFetchLog
from portal.services.watch import plans as plan_service
from portal.services.watch import sources as source_service
from portal.services.watch.settings import from_config
from portal.timeutil import utcnow
from portal.views.common import apply_reasons, roles_required
from portal.views.forms import CsrfForm, options
from portal.views.staff import bp
from portal.views.staff.watch.forms import PlanForm, ReapplyForm, SourceForm

MANAGERS = (ROLE_OFFICE, ROLE_ADMIN)


def _departments() -> list[tuple[str, str]]:
    return [("", "（不指定）")] + [(str(d.id), d.name) for d in
                                  db.session.scalars(select(Department).order_by(Department.name))]


def _source_form(formdata: bool = False) -> SourceForm:
    form = SourceForm() if formdata else SourceForm(formdata=None)
    form.platform.choices = options((p, p) for p in PLATFORMS)
    form.region.choices = options((r, r) for r in REGIONS)
    form.department_id.choices = options(_departments())
    return form


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@bp.get("/watch/sources")
@roles_required(*MANAGERS)
def watch_sources():
    """Every source with its health: last success, last new item, failures, paused, silent."""
    return _sources_page(_source_form(), [])


def _sources_page(form: SourceForm, errors: list[str], status: int = 200):
    rows = source_service.list_sources(db.session)
    now = utcnow()
    return render_template("staff/watch/sources.html", sources=rows, health={s.id: source_service.health(s, now)
                           for s in rows}, form=form, errors=errors), status


@bp.post("/watch/sources")
@roles_required(*MANAGERS)
def watch_source_create():
    """Add a source."""
    form = _source_form(formdata=True)
    errors: list[str] = []
    if form.validate():
        fields = source_service.SourceFields(
            name=form.name.data or "", platform=form.platform.data or "", region=form.region.data or "",
            department_id=_int(form.department_id.data), feed_url=form.feed_url.data or "",
            html_url=form.html_url.data or "", interval_minutes=form.interval_minutes.data,
            extract_selector=form.extract_selector.data or "",
        )
        try:
            source_service.create_source(db.session, current_user, fields, from_config(current_app.config))
        except ValidationFailed as exc:
            db.session.rollback()
            errors = apply_reasons(form, exc.reasons)
        else:
            return redirect(url_for("staff.watch_sources"), 303)
    else:
        errors = ["请检查填写的内容。"]
    return _sources_page(form, errors, 400)


@bp.get("/watch/sources/<int:source_id>")
@roles_required(*MANAGERS)
def watch_source(source_id: int):
    """One source: settings, health and the last fetch attempts."""
    try:
        source = source_service.get_source(db.session, source_id)
    except NotFound:
        abort(404)
    log = list(db.session.scalars(select(WatchFetchLog).where(WatchFetchLog.source_id == source.id)
                                  .order_by(WatchFetchLog.at.desc(), WatchFetchLog.id.desc()).limit(50)))
    return render_template("staff/watch/source.html", source=source, log=log,
                           health=source_service.health(source, utcnow()), form=CsrfForm(formdata=None))


@bp.post("/watch/sources/<int:source_id>/pause")
@roles_required(*MANAGERS)
def watch_source_pause(source_id: int):
    """Pause a source, or resume a paused one."""
    try:
        source = source_service.get_source(db.session, source_id)
    except NotFound:
        abort(404)
    if not CsrfForm().validate():
        abort(400)
    source_service.set_paused(db.session, current_user, source, not source.paused, "人工暂停")
    return redirect(url_for("staff.watch_source", source_id=source.id), 303)


def _plan_form(formdata: bool = False) -> PlanForm:
    form = PlanForm() if formdata else PlanForm(formdata=None)
    form.platforms.choices = options((p, p) for p in PLATFORMS)
    form.regions.choices = options((r, r) for r in REGIONS)
    form.severity.choices = options((s, s) for s in SEVERITIES)
    form.department_id.choices = options(_departments())
    if not formdata:
        form.fields.data = ["title", "text", "author"]
        form.active.data = True
    return form


def _plans_page(form: PlanForm, errors: list[str], status: int = 200, message: str = ""):
    return render_template("staff/watch/plans.html", plans=plan_service.list_plans(db.session), form=form,
                           errors=errors, reapply=ReapplyForm(formdata=None), message=message), status


@bp.get("/watch/plans")
@roles_required(*MANAGERS)
def watch_plans():
    """Every plan, and a form for a new one."""
    return _plans_page(_plan_form(), [])


@bp.post("/watch/plans")
@roles_required(*MANAGERS)
def watch_plan_create():
    """Add a plan."""
    form = _plan_form(formdata=True)
    errors: list[str] = []
    if form.validate():
        fields = plan_service.PlanFields(
            name=form.name.data or "", any_words=plan_service.split_words(form.any_words.data or ""),
            must_words=plan_service.split_words(form.must_words.data or ""),
            exclude_words=plan_service.split_words(form.exclude_words.data or ""), fields=form.fields.data or [],
            platforms=form.platforms.data or [], regions=form.regions.data or [],
            severity=form.severity.data or "", department_id=_int(form.department_id.data),
            alert_urls=(form.alert_urls.data or "").split(), active=bool(form.active.data),
        )
        try:
            plan_service.create_plan(db.session, current_user, fields, utcnow())
        except ValidationFailed as exc:
            db.session.rollback()
            errors = apply_reasons(form, exc.reasons)
        else:
            return redirect(url_for("staff.watch_plans"), 303)
    else:
        errors = ["请检查填写的内容。"]
    return _plans_page(form, errors, 400)


@bp.post("/watch/plans/<int:plan_id>/reapply")
@roles_required(*MANAGERS)
def watch_plan_reapply(plan_id: int):
    """Re-apply a plan to the items of the last N days."""
    try:
        plan = plan_service.get_plan(db.session, plan_id)
    except NotFound:
        abort(404)
    form = ReapplyForm()
    if not form.validate():
        return _plans_page(_plan_form(), ["天数应在 1 到 90 之间。"], 400)
    try:
        count = plan_service.reapply(db.session, current_user, plan, form.days.data, utcnow())
    except PortalError as exc:
        db.session.rollback()
        return _plans_page(_plan_form(), [exc.message], 400)
    message = f"方案“{plan.name}”已重新应用到最近 {form.days.data} 天：命中 {count} 条。"
    return _plans_page(_plan_form(), [], 200, message)
