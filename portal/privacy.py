"""Client fingerprints: an HMAC of the client address under a rotating key; the raw address is never kept."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from flask import current_app, request

from portal.timeutil import utcnow


def _period_key(secret: str, period: int) -> bytes:
    return hmac.new(secret.encode(), f"fingerprint-key:{period}".encode(), hashlib.sha256).digest()


def _period(at: datetime, hours: int) -> int:
    return int(at.timestamp() // (hours * 3600))


def fingerprint(address: str, secret: str, hours: int, at: datetime | None = None, back: int = 0) -> str:
    """The fingerprint of `address` in the key period containing `at` (or `back` periods before it)."""
    period = _period(at or utcnow(), hours) - back
    return hmac.new(_period_key(secret, period), address.encode(), hashlib.sha256).hexdigest()[:32]


def client_address() -> str:
    """The client address of the current request (after ProxyFix when PORTAL_PROXY_COUNT is set)."""
    return request.remote_addr or "unknown"


def current_fingerprints() -> tuple[str, str]:
    """This request's fingerprint in the current and the previous key period (for windows across a rotation)."""
    cfg = current_app.config
    addr = client_address()
    hours = int(cfg["FINGERPRINT_ROTATION_HOURS"])
    now = utcnow()
    return (
        fingerprint(addr, cfg["SECRET_KEY"], hours, now),
        fingerprint(addr, cfg["SECRET_KEY"], hours, now, back=1),
    )


def limiter_key() -> str:
    """Flask-Limiter key: the fingerprint, so no raw address reaches the limiter's storage either."""
    return current_fingerprints()[0]
