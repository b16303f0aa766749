"""A TOTP code is accepted once (RFC 6238 section 5.2); secrets are Fernet tokens under a rotatable keyring."""

from __future__ import annotations

import time

import pyotp
import pytest
from conftest import BASE_CONFIG, PASSWORD, TOTP_SECRET, csrf_token
from cryptography.fernet import Fernet
from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from portal import create_app
from portal.extensions import db
from portal.models import AuditEntry, StaffUser
from portal.services.accounts import totp

NOW_CODE = pyotp.TOTP(TOTP_SECRET)


def _password_step(client, username: str = "spokesperson"):
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"].endswith("/login/totp")


def _send_code(client, code: str):
    return client.post("/login/totp", data={"code": code, "csrf_token": csrf_token(client, "/login/totp")})


def _signed_in(client) -> bool:
    return client.get("/staff/").status_code == 200


def _fresh_step() -> int:
    """Wait, if needed, until at least 3 s remain in the current 30-s step, so both sign-ins share one step."""
    if time.time() % 30 > 27:
        time.sleep(30 - time.time() % 30 + 0.1)
    return int(time.time()) // 30


def test_a_second_session_cannot_sign_in_with_the_same_six_digits(app, staff):
    step = _fresh_step()
    code = NOW_CODE.at(step * 30)
    first, second = app.test_client(), app.test_client()
    _password_step(first)
    _password_step(second)
    assert _send_code(first, code).status_code == 303 and _signed_in(first)
    again = _send_code(second, code)
    page = again.get_data(as_text=True)
    assert again.status_code == 400 and "已经用过了" in page
    assert not _signed_in(second)
    # The next code the authenticator shows still works.
    assert _send_code(second, NOW_CODE.at((step + 1) * 30)).status_code == 303 and _signed_in(second)
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("user.totp_%"))).all()
    assert actions.count("user.totp_reused") == 1


def test_an_earlier_code_still_in_the_window_is_refused_after_a_later_one(app, staff):
    step = _fresh_step()
    client = app.test_client()
    _password_step(client)
    assert _send_code(client, NOW_CODE.at(step * 30)).status_code == 303
    other = app.test_client()
    _password_step(other)
    # The previous step's code is inside the accepted window (clock drift), but older than the code just used.
    late = _send_code(other, NOW_CODE.at((step - 1) * 30))
    assert late.status_code == 400 and not _signed_in(other)


def test_the_enrolment_code_is_used_up_too(app, staff):
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == "admin"))
        user.totp_secret = None
        db.session.commit()
    _fresh_step()
    client = app.test_client()
    _password_step(client, "admin")
    import re

    secret = re.search(r'class="totp-secret">([A-Z2-7]+)<', client.get("/login/totp").get_data(as_text=True)).group(1)
    code = pyotp.TOTP(secret).now()
    assert _send_code(client, code).status_code == 303 and _signed_in(client)
    other = app.test_client()
    _password_step(other, "admin")
    assert _send_code(other, code).status_code == 400 and not _signed_in(other)


def test_the_secret_is_a_fernet_token_under_the_derived_key_by_default(app, staff):
    with app.app_context():
        stored = db.session.scalar(select(StaffUser.totp_secret).where(StaffUser.username == "spokesperson"))
    assert stored.startswith("v2:") and TOTP_SECRET not in stored
    key = totp.derived_key(app.config["SECRET_KEY"])
    assert Fernet(key.encode()).decrypt(stored[3:].encode()).decode() == TOTP_SECRET
    # Altered or under another key: refused, not a crash.
    assert totp.decrypt_secret("another-secret-key-0123456789", stored) is None
    assert totp.decrypt_secret(app.config["SECRET_KEY"], stored[:-4] + "AAAA") is None


def test_rotation_with_flask_command(make_app, staff):
    new = totp.new_key()
    app = make_app(TOTP_KEYS=(new,))
    # Before rotation the old (derived) key still opens the secret: sign-in works.
    client = app.test_client()
    _password_step(client)
    assert _send_code(client, NOW_CODE.now()).status_code == 303
    result = app.test_cli_runner().invoke(args=["totp-keys", "rotate"])
    assert result.exit_code == 0 and "re-encrypted 2 TOTP secrets" in result.output, result.output
    with app.app_context():
        stored = db.session.scalar(select(StaffUser.totp_secret).where(StaffUser.username == "spokesperson"))
    assert Fernet(new.encode()).decrypt(stored[3:].encode()).decode() == TOTP_SECRET
    # After rotation the secret key may change: the configured key alone opens the secret.
    assert totp.decrypt_secret(totp.keyring("a-brand-new-secret-key-0123", (new,)), stored) == TOTP_SECRET
    assert app.test_cli_runner().invoke(args=["totp-keys", "new"]).output.strip() != new


def test_malformed_keys_refuse_to_start():
    from portal.config import ConfigError, from_environment

    with pytest.raises(ConfigError):
        from_environment({"PORTAL_TOTP_KEYS": "not-a-key"})
    key = Fernet.generate_key().decode()
    assert from_environment({"PORTAL_TOTP_KEYS": f" {key} ,"})["TOTP_KEYS"] == (key,)


def test_migration_reencrypts_stored_secrets_both_ways(tmp_path):
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.db'}",
                      "SEARCH_INDEX_DIR": str(tmp_path / "idx")})
    directory = app.extensions["migrate"].directory
    with app.app_context():
        upgrade(directory=directory)
        db.session.add(StaffUser(username="spokesperson", display_name="s", password_hash="x", role="spokesperson",
                                 totp_secret=totp.encrypt_secret(app.config["SECRET_KEY"], TOTP_SECRET)))
        db.session.commit()
        downgrade(directory=directory, revision="e5a7c2b9d4f1")
        old = db.session.execute(select(StaffUser.__table__.c.totp_secret)).scalar_one()
        assert old.startswith("v1:") and TOTP_SECRET not in old
        upgrade(directory=directory)
        new = db.session.execute(select(StaffUser.__table__.c.totp_secret)).scalar_one()
        assert new.startswith("v2:") and totp.decrypt_secret(app.config["SECRET_KEY"], new) == TOTP_SECRET
        db.session.remove()
        db.engine.dispose()
