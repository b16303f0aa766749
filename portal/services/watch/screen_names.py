"""Screen names registered with the office (网名备案): per staff account and platform, and the office's accounts."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from portal.models import Department, StaffUser
from portal.models.staff import ROLE_ADMIN, ROLE_OFFICE
from portal.models.watch import PLATFORMS
from portal.models.watch_loop import ScreenName
from portal.services import audit
from portal.timeutil import to_beijing, utcnow

NAME_MAX = 100
XLSX_HEADERS = ("部门", "平台", "网名", "使用人", "备案日期", "状态", "停用日期")


def register(session: Session, actor: StaffUser, platform: str, name: str, staff_user_id: int | None,
             official: bool, registered_on: date | None) -> ScreenName:
    """The office registers a screen name for a staff account (or as the office's official account)."""
    if actor.role not in (ROLE_OFFICE, ROLE_ADMIN):
        raise Forbidden("只有办公室可以备案网名。")
    reasons: dict[str, str] = {}
    name = door.clean_line(name or "")
    if platform not in PLATFORMS:
        reasons["platform"] = "请选择平台。"
    if door.is_blank(name) or len(name) > NAME_MAX:
        reasons["name"] = f"请填写网名（不超过 {NAME_MAX} 个字）。"
    user = session.get(StaffUser, staff_user_id) if staff_user_id else None
    if official:
        user = None
    elif user is None:
        reasons["staff_user"] = "请选择使用人（办公室官方账号请勾选“官方账号”）。"
    elif not user.active:
        reasons["staff_user"] = "该账号已停用，不能备案网名。"
    today = to_beijing(utcnow()).date()
    when = registered_on or today
    if when > today:
        reasons["registered_on"] = "备案日期不能晚于今天。"
    if not reasons and session.scalar(
        select(ScreenName.id).where(ScreenName.platform == platform, ScreenName.name == name)
    ):
        reasons["name"] = f"“{name}”在{platform}上已经备案。"
    if reasons:
        raise ValidationFailed(reasons)
    entry = ScreenName(
        platform=platform, name=name, staff_user_id=user.id if user else None,
        department_id=user.department_id if user else None, official=official, registered_on=when,
        registered_by_id=actor.id, created_at=utcnow(),
    )
    session.add(entry)
    session.flush()
    audit.record(session, actor, "screen_name.registered", "screen_name", entry.id, platform=platform, name=name,
                 holder=entry.holder)
    session.commit()
    return entry


def retire(session: Session, actor: StaffUser, screen_name_id: int) -> ScreenName:
    """Stop a registration (the account left the department): old answers keep it, new ones may not use it."""
    if actor.role not in (ROLE_OFFICE, ROLE_ADMIN):
        raise Forbidden("只有办公室可以停用备案网名。")
    entry = session.get(ScreenName, screen_name_id)
    if entry is None:
        raise NotFound("没有这个备案网名。")
    if entry.retired_on is not None:
        raise InvalidTransition("这个网名已经停用。")
    entry.retired_on = to_beijing(utcnow()).date()
    audit.record(session, actor, "screen_name.retired", "screen_name", entry.id, platform=entry.platform,
                 name=entry.name)
    session.commit()
    return entry


def find_registered(session: Session, platform: str, name: str) -> ScreenName | None:
    """The active registration of `name` on `platform`, or None."""
    name = door.clean_line(name or "")
    entry = session.scalar(select(ScreenName).where(ScreenName.platform == platform, ScreenName.name == name))
    return entry if entry is not None and entry.active else None


def registry(session: Session) -> list[tuple[str, list[ScreenName]]]:
    """The registry per department (the office's official accounts first), platform then name within each."""
    rows = list(session.scalars(select(ScreenName).order_by(ScreenName.platform, ScreenName.name)))
    depts = list(session.scalars(select(Department).order_by(Department.id)))
    out: list[tuple[str, list[ScreenName]]] = [("办公室（官方账号）", [r for r in rows if r.official])]
    out += [(d.name, [r for r in rows if not r.official and r.department_id == d.id]) for d in depts]
    rest = [r for r in rows if not r.official and r.department_id is None]
    if rest:
        out.append(("未归属部门", rest))
    return out


def xlsx_rows(session: Session) -> list[list[str]]:
    """The registry as rows of text cells for the spreadsheet."""
    out = []
    for dept, entries in registry(session):
        for e in entries:
            out.append([dept, e.platform, e.name, e.holder, e.registered_on.isoformat(),
                        "在用" if e.active else "已停用", e.retired_on.isoformat() if e.retired_on else ""])
    return out
