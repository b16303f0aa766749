"""Staff accounts: argon2id passwords, sign-in with lockout, session tokens that end sessions when rotated."""

from __future__ import annotations

import re
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import PortalError, ValidationFailed
from portal.models import Department, StaffUser
from portal.models.staff import ROLE_RESPONDER, ROLES, new_session_token
from portal.services import audit
from portal.timeutil import utcnow

_hasher = PasswordHasher()  # argon2id, library defaults (t=3, m=64 MiB, p=4)
# Verified against when the username is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")


def configure_hasher(time_cost: int, memory_cost_kib: int, parallelism: int) -> None:
    """Set the argon2id parameters (PORTAL_ARGON2_*); hashes made with others are upgraded at next sign-in."""
    global _hasher, _DUMMY_HASH
    if (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism) == (time_cost, memory_cost_kib, parallelism):
        return
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism)
    _DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")

LOGIN_FAILED_MESSAGE = "用户名或密码错误，或账号暂时不可用。"
USERNAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{3,64}$")
PASSWORD_MIN = 10


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    department_name: str | None = None,
    display_name: str = "",
    actor: StaffUser | None = None,
) -> StaffUser:
    """Create a staff account; a responder must belong to a department."""
    username, display_name = door.fold_width(username), door.clean_line(display_name)
    department_name = door.clean_line(department_name) or None
    reasons: dict[str, str] = {}
    if not USERNAME_RE.match(username or ""):
        reasons["username"] = "用户名为 3-64 位字母、数字、点、横线或下划线。"
    elif session.scalar(select(StaffUser).where(StaffUser.username == username)):
        reasons["username"] = "该用户名已被使用。"
    if role not in ROLES:
        reasons["role"] = "角色应为 " + " / ".join(ROLES) + " 之一。"
    if len(password or "") < PASSWORD_MIN:
        reasons["password"] = f"密码不少于 {PASSWORD_MIN} 位。"
    dept = None
    if department_name:
        dept = session.scalar(
            select(Department).where((Department.name == department_name) | (Department.slug == department_name))
        )
        if dept is None:
            reasons["department"] = f"部门“{department_name}”不存在。"
    elif role == ROLE_RESPONDER:
        reasons["department"] = "部门答复人必须属于一个部门。"
    if reasons:
        raise ValidationFailed(reasons)
    user = StaffUser(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        department_id=dept.id if dept else None,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.created", "staff_user", user.id, username=username, role=role)
    session.commit()
    return user


def authenticate(session: Session, username: str, password: str, max_failures: int, lock_minutes: int) -> StaffUser:
    """The account for these credentials; one message for every failure, so usernames are not revealed."""
    user = session.scalar(select(StaffUser).where(StaffUser.username == door.fold_width(username)))
    now = utcnow()
    if user is None:
        try:
            _hasher.verify(_DUMMY_HASH, password or "")
        except VerificationError:
            pass
        raise PortalError(LOGIN_FAILED_MESSAGE)
    locked = user.locked_until is not None and user.locked_until > now
    try:
        ok = _hasher.verify(user.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or locked or not user.active:
        if not ok:
            user.failed_logins += 1
            if user.failed_logins >= max_failures:
                user.locked_until = now + timedelta(minutes=lock_minutes)
                user.failed_logins = 0
                audit.record(session, None, "user.locked", "staff_user", user.id, minutes=lock_minutes)
        session.commit()
        raise PortalError(LOGIN_FAILED_MESSAGE)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record(session, user, "user.login", "staff_user", user.id)
    session.commit()
    return user


def end_sessions(session: Session, user: StaffUser, reason: str) -> None:
    """Rotate the user's session token: every cookie issued before stops working."""
    user.session_token = new_session_token()
    audit.record(session, user, "user.logout", "staff_user", user.id, reason=reason)
    session.commit()


def load_by_token(session: Session, token: str) -> StaffUser | None:
    """The active user whose current session token this is."""
    if not token:
        return None
    user = session.scalar(select(StaffUser).where(StaffUser.session_token == token))
    return user if user is not None and user.active else None
