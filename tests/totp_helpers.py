"""The authenticator side of TOTP sign-in in tests: the next code the server has not accepted yet."""

from __future__ import annotations

import time

import pyotp

from portal.services.accounts import totp

_LAST_STEP: dict[str, int] = {}


def authenticator_code(secret: str, used_step: int | None = None) -> str:
    """The code an authenticator shows for the earliest time step the server will still accept: a code is accepted
    once (RFC 6238 5.2), so after `used_step` (or the last step this process sent for `secret`, when None) comes the
    next one, waiting for the clock when the next one is not yet inside the server's window."""
    last = _LAST_STEP.get(secret, -1) if used_step is None else used_step
    while True:
        now = int(time.time()) // totp.STEP_SECONDS
        step = max(now, last + 1)
        if step <= now + totp.WINDOW:
            break
        time.sleep(totp.STEP_SECONDS - time.time() % totp.STEP_SECONDS + 0.05)
    _LAST_STEP[secret] = step
    return pyotp.TOTP(secret).at(step * totp.STEP_SECONDS)
