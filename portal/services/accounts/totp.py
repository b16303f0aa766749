"""TOTP second factor (RFC 6238, pyotp) for the admin and spokesperson roles; secrets encrypted with Fernet.

A code is accepted once: the time step it belongs to is stored per user, and a code of that step or an earlier
one is refused afterwards (RFC 6238 section 5.2), even from another session within the code's window.
Secrets are encrypted with cryptography's MultiFernet: the first key of PORTAL_TOTP_KEYS encrypts, every key
decrypts (rotation), and a key derived from the app's secret key is always the last one tried (the default).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from portal.errors import PortalError, ValidationFailed
from portal.models import StaffUser
from portal.services import audit
from portal.timeutil import utcnow

CODE_MESSAGE = "动态验证码不正确或已过期，请输入验证器中当前显示的 6 位数字。"
REUSED_MESSAGE = "这个动态验证码已经用过了。请等验证器显示下一个 6 位数字后再输入。"
PREFIX = "v2:"  # Fernet token; "v1:" was the earlier HMAC stream (re-encrypted by migration 4389189d07a8)
STEP_SECONDS = 30
WINDOW = 1  # steps either side of now that are still accepted (clock drift)


def requires_totp(user: StaffUser, config: Mapping[str, Any]) -> bool:
    """Whether the user's role must pass the second factor."""
    return user.role in tuple(config.get("TOTP_ROLES") or ())


def new_secret() -> str:
    """A random base32 secret (160 bits)."""
    return pyotp.random_base32(32)


def derived_key(app_key: str) -> str:
    """The default Fernet key, derived from the app's secret key (PORTAL_SECRET_KEY)."""
    raw = hmac.new(hashlib.sha256(b"portal-totp-fernet").digest(), app_key.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(raw).decode()


def new_key() -> str:
    """A fresh random Fernet key, for PORTAL_TOTP_KEYS."""
    return Fernet.generate_key().decode()


@functools.lru_cache(maxsize=16)
def _ring(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def keyring(app_key: str, keys: Sequence[str] = ()) -> MultiFernet:
    """The configured keys (the first encrypts) followed by the key derived from the app's secret key."""
    ordered = [k.strip() for k in keys if k.strip()]
    derived = derived_key(app_key)
    if derived not in ordered:
        ordered.append(derived)
    return _ring(tuple(ordered))


def config_keyring(config: Mapping[str, Any]) -> MultiFernet:
    """The keyring of an app's configuration (SECRET_KEY and TOTP_KEYS)."""
    return keyring(str(config["SECRET_KEY"]), tuple(config.get("TOTP_KEYS") or ()))


def _as_ring(key: str | MultiFernet) -> MultiFernet:
    return key if isinstance(key, MultiFernet) else keyring(key)


def encrypt_secret(key: str | MultiFernet, secret: str) -> str:
    """The secret as a Fernet token under the keyring's first key (a str is the app's secret key)."""
    return PREFIX + _as_ring(key).encrypt(secret.encode()).decode()


def decrypt_secret(key: str | MultiFernet, stored: str) -> str | None:
    """The secret, or None when no key of the ring opens it or it was altered."""
    if not stored or not stored.startswith(PREFIX):
        return None
    try:
        return _as_ring(key).decrypt(stored[len(PREFIX):].encode()).decode()
    except (InvalidToken, ValueError):
        return None


def rotate_secrets(session: Session, ring: MultiFernet, actor: StaffUser | None = None) -> tuple[int, int]:
    """Re-encrypt every stored secret under the ring's first key; (re-encrypted, unreadable) counts."""
    done = unreadable = 0
    for user in session.scalars(select(StaffUser).where(StaffUser.totp_secret.is_not(None))):
        stored = user.totp_secret or ""
        try:
            user.totp_secret = PREFIX + ring.rotate(stored.removeprefix(PREFIX).encode()).decode()
        except (InvalidToken, ValueError):
            unreadable += 1
            continue
        done += 1
    audit.record(session, actor, "user.totp_keys_rotated", "staff_user", None, reencrypted=done, unreadable=unreadable)
    session.commit()
    return done, unreadable


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG QR code (made here; no external service, no script)."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", title="验证器二维码")


def _digits(code: str) -> str:
    return "".join(ch for ch in (code or "") if "0" <= ch <= "9")


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (within the window around `now`) whose code this is, or None."""
    code = _digits(code)
    if len(code) != 6:
        return None
    otp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now) // STEP_SECONDS
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(otp.generate_otp(step), code):
            return step
    return None


def _claim_step(session: Session, user: StaffUser, step: int) -> bool:
    """Record `step` as the last accepted one unless it (or a later one) was accepted before: one atomic UPDATE,
    so two sessions sending the same code at once cannot both pass."""
    table = StaffUser.__table__
    done = session.execute(
        update(table)
        .where(table.c.id == user.id, or_(table.c.totp_last_step.is_(None), table.c.totp_last_step < step))
        .values(totp_last_step=step)
    )
    return done.rowcount == 1


def enrol(session: Session, user: StaffUser, key: str | MultiFernet, secret: str, code: str,
          now: float | None = None) -> None:
    """Store the secret once the user proves the authenticator shows the right code (that code is then used)."""
    step = matching_step(secret, code, utcnow().timestamp() if now is None else now)
    if step is None:
        raise ValidationFailed({"code": CODE_MESSAGE})
    user.totp_secret = encrypt_secret(key, secret)
    user.totp_last_step = step
    user.failed_logins = 0
    audit.record(session, user, "user.totp_enrolled", "staff_user", user.id)
    session.commit()


def check(session: Session, user: StaffUser, key: str | MultiFernet, code: str, max_failures: int,
          lock_minutes: int, now: float | None = None) -> None:
    """Verify the second factor, once per code; failures count towards the same lockout as passwords."""
    from datetime import timedelta

    secret = decrypt_secret(key, user.totp_secret or "")
    moment = utcnow()
    if user.locked_until is not None and user.locked_until > moment:
        raise PortalError("账号暂时锁定，请稍后再试。")
    step = matching_step(secret, code, moment.timestamp() if now is None else now) if secret else None
    reused = step is not None and not _claim_step(session, user, step)
    if step is None or reused:
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.locked_until = moment + timedelta(minutes=lock_minutes)
            user.failed_logins = 0
            audit.record(session, None, "user.locked", "staff_user", user.id, minutes=lock_minutes, factor="totp")
        audit.record(session, user, "user.totp_reused" if reused else "user.totp_failed", "staff_user", user.id)
        session.commit()
        raise ValidationFailed({"code": REUSED_MESSAGE if reused else CODE_MESSAGE})
    user.failed_logins = 0
    audit.record(session, user, "user.totp_ok", "staff_user", user.id)
    session.commit()
