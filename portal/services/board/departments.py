"""Departments kept by the admin: add, rename (the old name stays in history), retire (撤销) and merge (合并).

A rename records the old name with the time it was used until, so an answer shows the name it was given under
(`Department.name_at`). A merger moves the staff, the open questions, the reply templates and the directory rows
to the department that takes over; answers already given stay under the merged department's name. Imports and
links find a department by its current name, its slug or a former name, and follow mergers to the successor.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from portal import text as door
from portal.errors import Forbidden, InvalidTransition, ValidationFailed
from portal.models import Department, DepartmentName, DirectoryEntry, Question, StaffUser
from portal.models.desk import ReplyTemplate, question_codepartment
from portal.models.question import OPEN_STATES
from portal.models.staff import ROLE_ADMIN
from portal.services import audit
from portal.timeutil import utcnow

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
NAME_MAX = 100
REASON_MAX = 500


def _require_admin(actor: StaffUser | None) -> None:
    # None is the command line (run by whoever administers the server).
    if actor is not None and actor.role != ROLE_ADMIN:
        raise Forbidden("只有系统管理员可以管理部门。")


def all_departments(session: Session) -> list[Department]:
    """Every department: those in use first, then retired and merged ones, by name."""
    stmt = select(Department).options(selectinload(Department.former_names), selectinload(Department.merged_into))
    return list(session.scalars(stmt.order_by(Department.active.desc(), Department.name)))


def open_question_count(session: Session, department: Department) -> int:
    """Open questions led by the department."""
    return session.scalar(select(func.count(Question.id)).where(
        Question.department_id == department.id, Question.status.in_(OPEN_STATES))) or 0


def _check_name(session: Session, name: str, reasons: dict[str, str], current: Department | None = None) -> str:
    name = door.clean_line(name or "")
    if door.is_blank(name):
        reasons["name"] = "请填写部门名称。"
    elif len(name) > NAME_MAX:
        reasons["name"] = f"部门名称不超过 {NAME_MAX} 个字。"
    else:
        other = session.scalar(select(Department).where(Department.name == name))
        if other is not None and other is not current:
            reasons["name"] = f"已有名为“{name}”的部门。"
    return name


def add_department(
    session: Session, actor: StaffUser | None, name: str, slug: str, description: str = ""
) -> Department:
    """Add a department (a township, a new bureau …)."""
    _require_admin(actor)
    reasons: dict[str, str] = {}
    name = _check_name(session, name, reasons)
    slug = door.clean_line(slug or "").lower()
    description = door.clean_line(description or "")
    if not SLUG_RE.match(slug):
        reasons["slug"] = "网址标识只能用小写字母、数字和连字符（-），不超过 40 个字符，例如 qsz。"
    elif session.scalar(select(Department.id).where(Department.slug == slug)) is not None:
        reasons["slug"] = f"网址标识“{slug}”已被使用。"
    if len(description) > 2000:
        reasons["description"] = "简介不超过 2000 个字。"
    if reasons:
        raise ValidationFailed(reasons)
    department = Department(name=name, slug=slug, description=description, active=True, created_at=utcnow())
    session.add(department)
    session.flush()
    audit.record(session, actor, "department.created", "department", department.id, name=name, slug=slug)
    session.commit()
    return department


def rename_department(session: Session, actor: StaffUser | None, department: Department, name: str) -> Department:
    """Rename: the old name is kept with the time it was used until; answers keep the name they were given under."""
    _require_admin(actor)
    reasons: dict[str, str] = {}
    name = _check_name(session, name, reasons, current=department)
    if not reasons and name == department.name:
        reasons["name"] = "新名称与现名称相同。"
    if reasons:
        raise ValidationFailed(reasons)
    now = utcnow()
    since = max((old.used_until for old in department.former_names), default=department.created_at)
    old_name = department.name
    department.former_names.append(DepartmentName(name=old_name, used_from=since, used_until=now))
    department.name = name
    department.renamed_at = now
    audit.record(session, actor, "department.renamed", "department", department.id, previous=old_name, name=name)
    session.commit()
    return department


def _check_reason(reason: str) -> str:
    reason = door.clean_line(reason or "")
    if door.is_blank(reason):
        raise ValidationFailed({"reason": "请填写原因，它会记入操作日志。"})
    if len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": f"原因不超过 {REASON_MAX} 个字。"})
    return reason


def retire_department(session: Session, actor: StaffUser | None, department: Department, reason: str) -> Department:
    """Retire (撤销): no longer offered for asking or routing; refused while it still leads open questions."""
    _require_admin(actor)
    if not department.active:
        raise InvalidTransition("这个部门已经撤销或合并。")
    reason = _check_reason(reason)
    waiting = open_question_count(session, department)
    if waiting:
        raise ValidationFailed({"reason": f"该部门还有 {waiting} 条未办结的留言：请先转办，或将部门合并到其他部门。"})
    department.active = False
    department.retired_at = utcnow()
    audit.record(session, actor, "department.retired", "department", department.id, name=department.name,
                 reason=reason)
    session.commit()
    return department


def merge_department(
    session: Session, actor: StaffUser | None, source: Department, target: Department, reason: str
) -> dict[str, int]:
    """Merge `source` into `target`: staff, open questions, co-department links, templates and directory rows move."""
    _require_admin(actor)
    if not source.active:
        raise InvalidTransition("这个部门已经撤销或合并。")
    if target.id == source.id or not target.active:
        raise ValidationFailed({"target": "请选择另一个在用的部门。"})
    reason = _check_reason(reason)
    moved = {
        "staff": session.execute(update(StaffUser).where(StaffUser.department_id == source.id)
                                 .values(department_id=target.id)).rowcount,
        "questions": session.execute(update(Question).where(
            Question.department_id == source.id, Question.status.in_(OPEN_STATES)
        ).values(department_id=target.id)).rowcount,
        "templates": session.execute(update(ReplyTemplate).where(ReplyTemplate.department_id == source.id)
                                     .values(department_id=target.id)).rowcount,
        "directory": session.execute(update(DirectoryEntry).where(DirectoryEntry.department_id == source.id)
                                     .values(department_id=target.id)).rowcount,
    }
    # Co-department links of open questions move too, unless the target is already on them (or leads them).
    links = session.execute(
        select(question_codepartment.c.question_id)
        .join(Question, Question.id == question_codepartment.c.question_id)
        .where(question_codepartment.c.department_id == source.id, Question.status.in_(OPEN_STATES))
    ).scalars().all()
    for question_id in links:
        session.execute(question_codepartment.delete().where(
            question_codepartment.c.question_id == question_id, question_codepartment.c.department_id == source.id))
        lead = session.scalar(select(Question.department_id).where(Question.id == question_id))
        present = session.scalar(select(func.count()).select_from(question_codepartment).where(
            question_codepartment.c.question_id == question_id, question_codepartment.c.department_id == target.id))
        if lead != target.id and not present:
            session.execute(question_codepartment.insert().values(question_id=question_id, department_id=target.id))
    source.active = False
    source.retired_at = utcnow()
    source.merged_into = target
    audit.record(session, actor, "department.merged", "department", source.id, name=source.name, into=target.name,
                 reason=reason, **moved)
    session.commit()
    session.expire_all()
    return moved


def successor(department: Department) -> Department:
    """The department that carries on the work of a merged one (itself when not merged)."""
    seen = {department.id}
    while department.merged_into is not None and department.merged_into.id not in seen:
        department = department.merged_into
        seen.add(department.id)
    return department


def resolve(session: Session, text: str, follow_mergers: bool = True) -> Department | None:
    """A department by current name, slug or former name, followed to its successor after mergers."""
    text = door.clean_line(text or "")
    if door.is_blank(text):
        return None
    found = session.scalar(select(Department).where((Department.name == text) | (Department.slug == text)))
    if found is None:
        found = session.scalar(
            select(Department).join(DepartmentName).where(DepartmentName.name == text)
            .order_by(DepartmentName.used_until.desc()).limit(1)
        )
    if found is None:
        return None
    return successor(found) if follow_mergers else found
