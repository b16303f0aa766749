"""Watched items: the list with filters, and one item with its story across platforms."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, render_template, request
from sqlalchemy import select

from portal.extensions import db
from portal.models import Department
from portal.models.staff import ROLE_ADMIN, ROLE_OFFICE, ROLE_RESPONDER, ROLE_SPOKESPERSON
from portal.models.watch import (
    PLATFORMS,
    REGIONS,
    SEVERITIES,
    WatchCapture,
    WatchItem,
    WatchMatch,
    WatchPlan,
    WatchSource,
)
from portal.numbers import parse_positive_int
from portal.services.watch.items import cluster_platforms
from portal.timeutil import parse_local
from portal.views.common import roles_required
from portal.views.staff import bp

READERS = (ROLE_OFFICE, ROLE_ADMIN, ROLE_RESPONDER, ROLE_SPOKESPERSON)
PAGE = 50


@bp.get("/watch")
@roles_required(*READERS)
def watch_items():
    """New items first, filtered by plan, platform, region, severity, department and date."""
    args = request.args
    query = select(WatchItem).join(WatchSource, WatchSource.id == WatchItem.source_id)
    errors = []
    plan_id = parse_positive_int(args.get("plan", ""), 10**9)
    if plan_id:
        query = query.where(WatchItem.id.in_(select(WatchMatch.item_id).where(WatchMatch.plan_id == plan_id)))
    if args.get("platform") in PLATFORMS:
        query = query.where(WatchSource.platform == args["platform"])
    if args.get("region") in REGIONS:
        query = query.where(WatchSource.region == args["region"])
    if args.get("severity") in SEVERITIES:
        query = query.where(WatchItem.severity == args["severity"])
    dept_id = parse_positive_int(args.get("department", ""), 10**9)
    if dept_id:
        query = query.where(WatchItem.department_id == dept_id)
    for name, label in (("since", "起始日期"), ("until", "截止日期")):
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        try:
            when = parse_local(raw)
        except ValueError:
            errors.append(f"{label}格式应为 2025-05-12。")
            continue
        if name == "since":
            query = query.where(WatchItem.first_seen_at >= when)
        else:
            query = query.where(WatchItem.first_seen_at < when + timedelta(days=1))
    page = parse_positive_int(args.get("page", ""), 10**6) or 1
    rows = list(db.session.scalars(query.order_by(WatchItem.first_seen_at.desc(), WatchItem.id.desc())
                                   .offset((page - 1) * PAGE).limit(PAGE + 1)))
    return render_template(
        "staff/watch/items.html", items=rows[:PAGE], has_more=len(rows) > PAGE, page=page, args=args, errors=errors,
        plans=list(db.session.scalars(select(WatchPlan).order_by(WatchPlan.name))),
        departments=list(db.session.scalars(select(Department).order_by(Department.name))),
        platforms=PLATFORMS, regions=REGIONS, severities=SEVERITIES,
    ), (400 if errors else 200)


@bp.get("/watch/items/<int:item_id>")
@roles_required(*READERS)
def watch_item(item_id: int):
    """One item: its text, the plans it matched, and every platform where its story appeared."""
    item = db.session.get(WatchItem, item_id)
    if item is None:
        abort(404)
    spread = cluster_platforms(item.cluster) if item.cluster else []
    captures = list(db.session.scalars(select(WatchCapture).where(WatchCapture.item_id == item.id)
                                       .order_by(WatchCapture.created_at)))
    return render_template("staff/watch/item.html", item=item, spread=spread, captures=captures)
