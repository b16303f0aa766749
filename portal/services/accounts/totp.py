"""TOTP second factor (RFC 6238, pyotp) for the admin and spokesperson roles; secrets encrypted at rest."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

import pyotp
import segno
from sqlalchemy.orm import Session

from portal.errors import PortalError, ValidationFailed
from portal.models import StaffUser
from portal.services import audit
from portal.timeutil import utcnow

CODE_MESSAGE = "动态验证码不正确或已过期，请输入验证器中当前显示的 6 位数字。"
_PREFIX = "v1:"


def requires_totp(user: StaffUser, config: Mapping[str, Any]) -> bool:
    """Whether the user's role must pass the second factor."""
    return user.role in tuple(config.get("TOTP_ROLES") or ())


def new_secret() -> str:
    """A random base32 secret (160 bits)."""
    return pyotp.random_base32(32)


def _keys(app_key: str) -> tuple[bytes, bytes]:
    root = hashlib.sha256(("portal-totp-secret:" + app_key).encode()).digest()
    return hmac.new(root, b"enc", hashlib.sha256).digest(), hmac.new(root, b"mac", hashlib.sha256).digest()


def _stream(key: bytes, nonce: bytes, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += hmac.new(key, nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        counter += 1
    return out[:length]


def encrypt_secret(app_key: str, secret: str) -> str:
    """Encrypt-then-MAC under keys derived from the app's secret key (HMAC-SHA256 keystream and tag)."""
    enc, mac = _keys(app_key)
    nonce = secrets.token_bytes(16)
    data = secret.encode()
    body = nonce + bytes(a ^ b for a, b in zip(data, _stream(enc, nonce, len(data)), strict=True))
    tag = hmac.new(mac, body, hashlib.sha256).digest()
    return _PREFIX + base64.urlsafe_b64encode(body + tag).decode()


def decrypt_secret(app_key: str, stored: str) -> str | None:
    """The secret, or None when it was encrypted under another key or was altered."""
    if not stored or not stored.startswith(_PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(stored[len(_PREFIX):].encode())
    except ValueError:
        return None
    enc, mac = _keys(app_key)
    body, tag = raw[:-32], raw[-32:]
    if len(body) < 17 or not hmac.compare_digest(tag, hmac.new(mac, body, hashlib.sha256).digest()):
        return None
    nonce, data = body[:16], body[16:]
    return bytes(a ^ b for a, b in zip(data, _stream(enc, nonce, len(data)), strict=True)).decode()


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG QR code (made here; no external service, no script)."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", title="验证器二维码")


def _code_ok(secret: str, code: str) -> bool:
    code = "".join(ch for ch in (code or "") if "0" <= ch <= "9")
    return len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)


def enrol(session: Session, user: StaffUser, app_key: str, secret: str, code: str) -> None:
    """Store the secret once the user proves the authenticator shows the right code."""
    if not _code_ok(secret, code):
        raise ValidationFailed({"code": CODE_MESSAGE})
    user.totp_secret = encrypt_secret(app_key, secret)
    audit.record(session, user, "user.totp_enrolled", "staff_user", user.id)
    session.commit()


def check(session: Session, user: StaffUser, app_key: str, code: str, max_failures: int, lock_minutes: int) -> None:
    """Verify the second factor; failures count towards the same lockout as passwords."""
    from datetime import timedelta

    secret = decrypt_secret(app_key, user.totp_secret or "")
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        raise PortalError("账号暂时锁定，请稍后再试。")
    if secret is None or not _code_ok(secret, code):
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(minutes=lock_minutes)
            user.failed_logins = 0
            audit.record(session, None, "user.locked", "staff_user", user.id, minutes=lock_minutes, factor="totp")
        audit.record(session, user, "user.totp_failed", "staff_user", user.id)
        session.commit()
        raise ValidationFailed({"code": CODE_MESSAGE})
    user.failed_logins = 0
    audit.record(session, user, "user.totp_ok", "staff_user", user.id)
    session.commit()
