"""Watch plans (监测方案): edit, import from JSON, apply to new items, re-apply a changed plan to recent items."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.errors import NotFound, ValidationFailed
from portal.models import Department, StaffUser
from portal.models.watch import PLATFORMS, REGIONS, SEVERITIES, SEVERITY_RANK, WatchItem, WatchMatch, WatchPlan
from portal.services import audit
from portal.services.watch.channels import check_url
from portal.services.watch.matching import FIELDS, Matcher, PlanRule, Subject
from portal.services.watch.textclean import one_line

WORDS_MAX = 2000
REAPPLY_MAX_DAYS = 90


@dataclass
class PlanFields:
    """A plan as typed on the form or read from a plans file."""

    name: str
    any_words: list[str] = field(default_factory=list)
    must_words: list[str] = field(default_factory=list)
    exclude_words: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=lambda: list(FIELDS))
    source_ids: list[int] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    severity: str = "一般"
    department_id: int | None = None
    alert_urls: list[str] = field(default_factory=list)
    active: bool = True


def split_words(raw: str) -> list[str]:
    """Words typed one a line, or separated by commas (either width) or 、."""
    for sep in ("，", ",", "、", "\r"):
        raw = raw.replace(sep, "\n")
    return [w for w in (one_line(x, 100) for x in raw.split("\n")) if w]


def validate(session: Session, fields: PlanFields, plan_id: int | None = None) -> None:
    """Raise ValidationFailed with a Chinese message per bad field."""
    reasons = {}
    if not fields.name.strip():
        reasons["name"] = "请填写方案名称。"
    elif len(fields.name) > 100:
        reasons["name"] = "方案名称不能超过 100 个字。"
    else:
        clash = session.scalar(select(WatchPlan.id).where(WatchPlan.name == fields.name.strip()))
        if clash is not None and clash != plan_id:
            reasons["name"] = "已有同名的监测方案。"
    if not fields.any_words and not fields.must_words:
        reasons["any_words"] = "请至少填写一个“任一词”或“必含词”。"
    if sum(map(len, (fields.any_words, fields.must_words, fields.exclude_words))) > WORDS_MAX:
        reasons["any_words"] = f"一个方案最多 {WORDS_MAX} 个词。"
    if fields.severity not in SEVERITIES:
        reasons["severity"] = "级别应为一般、较大或重大。"
    if not fields.fields or set(fields.fields) - set(FIELDS):
        reasons["fields"] = "请选择匹配范围（标题、正文、作者）。"
    if set(fields.platforms) - set(PLATFORMS):
        reasons["platforms"] = "平台类型无效。"
    if set(fields.regions) - set(REGIONS):
        reasons["regions"] = "地区无效。"
    if fields.department_id is not None and session.get(Department, fields.department_id) is None:
        reasons["department_id"] = "所选部门不存在。"
    bad = [p for p in (check_url(u) for u in fields.alert_urls) if p]
    if bad:
        reasons["alert_urls"] = " ".join(bad)
    if reasons:
        raise ValidationFailed(reasons)


def _apply(plan: WatchPlan, fields: PlanFields, now: datetime) -> None:
    plan.name = fields.name.strip()
    plan.any_words, plan.must_words = "\n".join(fields.any_words), "\n".join(fields.must_words)
    plan.exclude_words = "\n".join(fields.exclude_words)
    plan.fields = ",".join(f for f in FIELDS if f in fields.fields)
    plan.source_ids = ",".join(str(i) for i in fields.source_ids)
    plan.platforms, plan.regions = ",".join(fields.platforms), ",".join(fields.regions)
    plan.severity, plan.department_id = fields.severity, fields.department_id
    plan.alert_urls, plan.active, plan.updated_at = "\n".join(fields.alert_urls), fields.active, now


def create_plan(session: Session, actor: StaffUser | None, fields: PlanFields, now: datetime) -> WatchPlan:
    """Add a plan; it applies to items fetched from now on (and to recent ones through `reapply`)."""
    validate(session, fields)
    plan = WatchPlan(created_at=now)
    _apply(plan, fields, now)
    session.add(plan)
    session.flush()
    audit.record(session, actor, "watch.plan.create", "watch_plan", plan.id, name=plan.name)
    session.commit()
    return plan


def update_plan(session: Session, actor: StaffUser | None, plan: WatchPlan, fields: PlanFields,
                now: datetime) -> WatchPlan:
    """Change a plan."""
    validate(session, fields, plan.id)
    _apply(plan, fields, now)
    audit.record(session, actor, "watch.plan.update", "watch_plan", plan.id, name=plan.name)
    session.commit()
    return plan


def get_plan(session: Session, plan_id: int) -> WatchPlan:
    plan = session.get(WatchPlan, plan_id)
    if plan is None:
        raise NotFound("没有这个监测方案。")
    return plan


def list_plans(session: Session) -> list[WatchPlan]:
    return list(session.scalars(select(WatchPlan).order_by(WatchPlan.name)))


def _dept_by_name(session: Session, name: str | None) -> int | None:
    if not name:
        return None
    dept = session.scalar(select(Department.id).where((Department.name == name) | (Department.slug == name)))
    if dept is None:
        raise ValidationFailed({"department_id": f"没有名为“{name}”的部门。"})
    return dept


def fields_from_json(session: Session, obj: dict) -> PlanFields:
    """One plan of a plans file: name, any, must, exclude, severity, optional department, alert and scope keys."""
    def words(key: str) -> list[str]:
        value = obj.get(key) or []
        if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
            raise ValidationFailed({key: f"“{key}”应为词的列表。"})
        return [w for w in (one_line(x, 100) for x in value) if w]

    if not isinstance(obj, dict):
        raise ValidationFailed({"name": "每个方案应为一个 JSON 对象。"})
    return PlanFields(
        name=one_line(str(obj.get("name") or ""), 100), any_words=words("any"), must_words=words("must"),
        exclude_words=words("exclude"), fields=words("fields") or list(FIELDS), platforms=words("platforms"),
        regions=[{"周边": "周边地区"}.get(r, r) for r in words("regions")], severity=str(obj.get("severity") or "一般"),
        department_id=_dept_by_name(session, obj.get("department")), alert_urls=words("alert"),
        active=bool(obj.get("active", True)),
    )


def import_plans(session: Session, actor: StaffUser | None, data: bytes, now: datetime) -> tuple[int, int, list[str]]:
    """Add or update (by name) the plans of a JSON array; returns created, updated and the problems found."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed({"file": f"方案文件不是有效的 JSON：{exc}"}) from None
    if not isinstance(doc, list):
        raise ValidationFailed({"file": "方案文件应为 JSON 数组。"})
    created = updated = 0
    problems: list[str] = []
    for index, obj in enumerate(doc, 1):
        try:
            fields = fields_from_json(session, obj)
            existing = session.scalar(select(WatchPlan).where(WatchPlan.name == fields.name))
            validate(session, fields, existing.id if existing else None)
        except ValidationFailed as exc:
            problems.append(f"第 {index} 个方案：" + "；".join(exc.reasons.values()))
            continue
        if existing is None:
            plan = WatchPlan(created_at=now)
            _apply(plan, fields, now)
            session.add(plan)
            created += 1
        else:
            _apply(existing, fields, now)
            updated += 1
        session.flush()
    audit.record(session, actor, "watch.plan.import", "watch_plan", None, created=created, updated=updated)
    session.commit()
    return created, updated, problems


def _csv(raw: str) -> list[str]:
    return [x for x in (p.strip() for p in raw.split(",")) if x]


def rule_of(plan: WatchPlan) -> PlanRule:
    """The matcher's view of a stored plan."""
    return PlanRule(
        plan_id=plan.id, any_words=plan.words("any"), must_words=plan.words("must"),
        exclude_words=plan.words("exclude"), fields=frozenset(_csv(plan.fields)) or frozenset(FIELDS),
        source_ids=frozenset(int(x) for x in _csv(plan.source_ids) if x.isdigit()),
        platforms=frozenset(_csv(plan.platforms)), regions=frozenset(_csv(plan.regions)),
    )


def build_matcher(session: Session, plans: list[WatchPlan] | None = None) -> Matcher:
    """A matcher over the active plans (or the plans given)."""
    if plans is None:
        plans = list(session.scalars(select(WatchPlan).where(WatchPlan.active.is_(True))))
    return Matcher([rule_of(p) for p in plans])


def subject_of(item: WatchItem) -> Subject:
    return Subject(title=item.title, text=item.text, author=item.author, source_id=item.source_id,
                   platform=item.source.platform, region=item.source.region)


def apply_plans(session: Session, items: list[WatchItem], matcher: Matcher, now: datetime) -> list[WatchMatch]:
    """Record the plans each item matches; the item takes the highest severity and that plan's department."""
    if not items or matcher.empty:
        return []
    plans = {p.id: p for p in session.scalars(select(WatchPlan).where(WatchPlan.id.in_(list(matcher.rules))))}
    known = {(m.item_id, m.plan_id) for m in session.scalars(
        select(WatchMatch).where(WatchMatch.item_id.in_([i.id for i in items]))
    )}
    new: list[WatchMatch] = []
    for item in items:
        for plan_id, words in matcher.match(subject_of(item)).items():
            if (item.id, plan_id) in known:
                continue
            plan = plans[plan_id]
            match = WatchMatch(item_id=item.id, plan_id=plan_id, words=",".join(words)[:2000], matched_at=now)
            session.add(match)
            new.append(match)
            if SEVERITY_RANK[plan.severity] > SEVERITY_RANK.get(item.severity, 0):
                item.severity = plan.severity
                if plan.department_id:
                    item.department_id = plan.department_id
            if item.cluster is not None and SEVERITY_RANK[plan.severity] > SEVERITY_RANK.get(item.cluster.severity, 0):
                item.cluster.severity = plan.severity
    session.flush()
    return new


def reapply(session: Session, actor: StaffUser | None, plan: WatchPlan, days: int, now: datetime) -> int:
    """Re-apply one plan to the items first seen in the last `days` days; returns how many match now."""
    if not 1 <= days <= REAPPLY_MAX_DAYS:
        raise ValidationFailed({"days": f"天数应在 1 到 {REAPPLY_MAX_DAYS} 之间。"})
    since = now - timedelta(days=days)
    recent = select(WatchItem.id).where(WatchItem.first_seen_at >= since)
    session.execute(delete(WatchMatch).where(WatchMatch.plan_id == plan.id, WatchMatch.item_id.in_(recent)))
    matcher = build_matcher(session, [plan]) if plan.active else Matcher([])
    count = 0
    batch: list[WatchItem] = []
    for item in session.scalars(select(WatchItem).where(WatchItem.first_seen_at >= since)):
        batch.append(item)
        if len(batch) >= 500:
            count += len(apply_plans(session, batch, matcher, now))
            batch = []
    count += len(apply_plans(session, batch, matcher, now))
    audit.record(session, actor, "watch.plan.reapply", "watch_plan", plan.id, days=days, matched=count)
    session.commit()
    return count
