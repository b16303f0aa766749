"""The admin's account work: create, edit role and department, disable, reset passwords and 2FA; and every
user's own password change. Anything that changes who may sign in rotates the session token."""

from __future__ import annotations

import re

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import Forbidden, NotFound, ValidationFailed
from portal.models import Department, StaffUser
from portal.models.staff import ROLE_ADMIN, ROLE_RESPONDER, ROLES, new_session_token
from portal.services import audit
from portal.services.accounts import signin
from portal.timeutil import utcnow

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")


def get_user(session: Session, user_id: int) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound("账号不存在。")
    return user


def _check_admin(actor: StaffUser) -> None:
    if actor.role != ROLE_ADMIN:
        raise Forbidden("只有系统管理员可以管理账号。")


def _validate(session: Session, role: str, department_id: int | None, email: str) -> dict[str, str]:
    reasons: dict[str, str] = {}
    if role not in ROLES:
        reasons["role"] = "请选择角色。"
    if department_id is not None and session.get(Department, department_id) is None:
        reasons["department"] = "没有这个部门。"
    if role == ROLE_RESPONDER and department_id is None:
        reasons["department"] = "部门答复人必须属于一个部门。"
    if email and not EMAIL_RE.match(email):
        reasons["email"] = "邮箱格式不正确。"
    return reasons


def create(
    session: Session, actor: StaffUser, username: str, display_name: str, password: str, role: str,
    department_id: int | None, email: str,
) -> StaffUser:
    """Create an account (the admin)."""
    _check_admin(actor)
    email = (email or "").strip()
    reasons = _validate(session, role, department_id, email)
    if reasons:
        raise ValidationFailed(reasons)
    dept = session.get(Department, department_id) if department_id else None
    user = signin.create_user(
        session, (username or "").strip(), password or "", role, dept.name if dept else None,
        door.clean(display_name or "").strip()[:64], actor=actor,
    )
    if email:
        user.email = email
        session.commit()
    return user


def update(
    session: Session, actor: StaffUser, user: StaffUser, display_name: str, role: str, department_id: int | None,
    email: str,
) -> StaffUser:
    """Change name, role, department and mail; a change of role or department ends the user's sessions."""
    _check_admin(actor)
    email = (email or "").strip()
    reasons = _validate(session, role, department_id, email)
    if user.id == actor.id and role != ROLE_ADMIN:
        reasons["role"] = "不能取消自己的管理员角色。"
    if reasons:
        raise ValidationFailed(reasons)
    rights_changed = (user.role, user.department_id) != (role, department_id)
    before = {"role": user.role, "department": user.department.name if user.department else None,
              "display_name": user.display_name, "email": user.email}
    user.display_name = door.clean(display_name or "").strip()[:64] or user.username
    user.role = role
    user.department_id = department_id
    user.email = email or None
    if rights_changed and user.id != actor.id:
        user.session_token = new_session_token()
    new_department = session.get(Department, department_id) if department_id else None
    user.department = new_department
    after = {"role": role, "department": new_department.name if new_department else None,
             "display_name": user.display_name, "email": user.email}
    audit.record(session, actor, "user.updated", "staff_user", user.id,
                 changed={k: [before[k], after[k]] for k in after if before[k] != after[k]},
                 sessions_ended=rights_changed)
    session.commit()
    return user


def set_active(session: Session, actor: StaffUser, user: StaffUser, active: bool, reason: str) -> StaffUser:
    """Disable (ending every session at once) or enable an account; the reason is recorded."""
    _check_admin(actor)
    if user.id == actor.id and not active:
        raise ValidationFailed({"reason": "不能停用自己的账号。"})
    reason = door.clean(reason or "").strip()
    if not active and (not 2 <= door.visible_length(reason) or len(reason) > 500):
        raise ValidationFailed({"reason": "请填写停用理由（2-500 个字）。"})
    user.active = active
    user.session_token = new_session_token()
    audit.record(session, actor, "user.enabled" if active else "user.disabled", "staff_user", user.id, reason=reason)
    session.commit()
    return user


def _reset_reason(reason: str | None, reasons: dict[str, str]) -> str:
    reason = door.clean_line(reason or "")
    if door.visible_length(reason) < 2 or len(reason) > 500:
        reasons["reason"] = "请填写原因（2-500 个字），它会记入操作日志。"
    return reason


def reset_password(
    session: Session, actor: StaffUser, user: StaffUser, new_password: str, reason: str = ""
) -> StaffUser:
    """The admin sets a new password, giving a reason; the user's sessions end and the lockout is cleared."""
    _check_admin(actor)
    reasons: dict[str, str] = {}
    if len(new_password or "") < signin.PASSWORD_MIN:
        reasons["password"] = f"密码不少于 {signin.PASSWORD_MIN} 位。"
    reason = _reset_reason(reason, reasons)
    if reasons:
        raise ValidationFailed(reasons)
    user.password_hash = signin.hash_password(new_password)
    user.password_changed_at = utcnow()
    user.session_token = new_session_token()
    user.failed_logins = 0
    user.locked_until = None
    audit.record(session, actor, "user.password_reset", "staff_user", user.id, reason=reason)
    session.commit()
    return user


def reset_totp(session: Session, actor: StaffUser, user: StaffUser, reason: str = "") -> StaffUser:
    """Forget the user's authenticator, giving a reason: they enrol again at next sign-in; their sessions end."""
    _check_admin(actor)
    reasons: dict[str, str] = {}
    reason = _reset_reason(reason, reasons)
    if reasons:
        raise ValidationFailed(reasons)
    user.totp_secret = None
    user.session_token = new_session_token()
    audit.record(session, actor, "user.totp_reset", "staff_user", user.id, reason=reason)
    session.commit()
    return user


def change_own_password(session: Session, user: StaffUser, current: str, new: str, repeat: str) -> StaffUser:
    """A user changes their own password; every session of theirs ends (this one signs in again)."""
    try:
        ok = signin._hasher.verify(user.password_hash, current or "")
    except (VerificationError, InvalidHashError):
        ok = False
    reasons: dict[str, str] = {}
    if not ok:
        reasons["current"] = "当前密码不正确。"
    if len(new or "") < signin.PASSWORD_MIN:
        reasons["new"] = f"新密码不少于 {signin.PASSWORD_MIN} 位。"
    elif new == current:
        reasons["new"] = "新密码不能与当前密码相同。"
    if new != repeat:
        reasons["repeat"] = "两次输入的新密码不一致。"
    if reasons:
        raise ValidationFailed(reasons)
    user.password_hash = signin.hash_password(new)
    user.password_changed_at = utcnow()
    user.session_token = new_session_token()
    audit.record(session, user, "user.password_changed", "staff_user", user.id)
    session.commit()
    return user


def registry(session: Session) -> list[tuple[Department | None, list[StaffUser]]]:
    """Each department's registered staff accounts (备案), then those without a department."""
    users = list(session.scalars(select(StaffUser).order_by(StaffUser.username)))
    depts = list(session.scalars(select(Department).order_by(Department.id)))
    out: list[tuple[Department | None, list[StaffUser]]] = [
        (d, [u for u in users if u.department_id == d.id]) for d in depts
    ]
    out.append((None, [u for u in users if u.department_id is None]))
    return out
