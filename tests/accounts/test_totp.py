"""TOTP second factor for the admin and spokesperson roles."""

from __future__ import annotations

import re

import pyotp
from conftest import PASSWORD, TOTP_SECRET, csrf_token

from portal.extensions import db
from portal.models import StaffUser


def _password_step(client, username: str):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})


def test_spokesperson_cannot_sign_in_without_the_code(client, staff):
    response = _password_step(client, "spokesperson")
    assert response.status_code == 303 and response.headers["Location"].endswith("/login/totp")
    # Not signed in yet: the console still sends to the login page.
    assert "/login" in client.get("/staff/").headers.get("Location", "")
    token = csrf_token(client, "/login/totp")
    wrong = client.post("/login/totp", data={"code": "000000", "csrf_token": token})
    assert wrong.status_code == 400 and "动态验证码不正确" in wrong.get_data(as_text=True)
    assert "/login" in client.get("/staff/").headers.get("Location", "")
    no_token = client.post("/login/totp", data={"code": pyotp.TOTP(TOTP_SECRET).now()})
    assert no_token.status_code == 400
    ok = client.post("/login/totp", data={"code": pyotp.TOTP(TOTP_SECRET).now(), "csrf_token": token})
    assert ok.status_code == 303
    assert client.get("/staff/").status_code == 200


def test_totp_page_without_a_password_step_goes_back_to_login(client, staff):
    assert client.get("/login/totp").headers["Location"].endswith("/login")


def test_office_needs_no_second_factor(client, staff):
    response = _password_step(client, "office")
    assert response.status_code == 303 and not response.headers["Location"].endswith("/login/totp")


def test_first_sign_in_enrols_with_a_qr_code(app, client, staff):
    with app.app_context():
        user = db.session.query(StaffUser).filter_by(username="admin").one()
        user.totp_secret = None
        db.session.commit()
    _password_step(client, "admin")
    page = client.get("/login/totp").get_data(as_text=True)
    assert "绑定验证器" in page and "<svg" in page and "<script" not in page
    secret = re.search(r'class="totp-secret">([A-Z2-7]+)<', page).group(1)
    token = csrf_token(client, "/login/totp")
    ok = client.post("/login/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert ok.status_code == 303 and client.get("/staff/users").status_code == 200
    with app.app_context():
        stored = db.session.query(StaffUser).filter_by(username="admin").one().totp_secret
    assert stored and secret not in stored  # encrypted at rest


def test_the_pending_step_expires(app, client, staff, monkeypatch):
    import portal.views.auth as auth_view

    _password_step(client, "spokesperson")
    monkeypatch.setattr(auth_view, "PENDING_SECONDS", -1)
    assert client.get("/login/totp").headers["Location"].endswith("/login")
