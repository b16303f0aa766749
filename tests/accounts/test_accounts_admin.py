"""Accounts: admin creates, edits, disables and resets; the registry; a replayed cookie stops working after
logout, a password change or disabling."""

from __future__ import annotations

from conftest import PASSWORD, AuthActions, csrf_token

from portal.extensions import db
from portal.models import AuditEntry, StaffUser


def _uid(app, username: str) -> int:
    with app.app_context():
        return db.session.query(StaffUser.id).filter_by(username=username).scalar()


def _signed_in(app, username: str, password: str = PASSWORD):
    client = app.test_client()
    assert AuthActions(client).login(username, password).status_code == 303
    return client, client.get_cookie("session").value


def test_cookie_replayed_after_logout_is_refused(app, staff):
    client, stolen = _signed_in(app, "spokesperson")
    assert AuthActions(client).logout().status_code == 303
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert "/login" in replay.get("/staff/").headers.get("Location", "")


def test_password_change_ends_every_session(app, staff):
    client, _ = _signed_in(app, "responder")
    other, other_cookie = _signed_in(app, "responder")
    token = csrf_token(client, "/staff/account/password")
    bad = client.post("/staff/account/password", data={"csrf_token": token, "current": "wrong-password",
                                                       "new": "a-new-password-1", "repeat": "a-new-password-1"})
    assert bad.status_code == 400 and "当前密码不正确" in bad.get_data(as_text=True)
    ok = client.post("/staff/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                      "new": "a-new-password-1", "repeat": "a-new-password-1"})
    assert ok.status_code == 303
    assert "/login" in other.get("/staff/").headers.get("Location", "")
    assert "/login" in client.get("/staff/").headers.get("Location", "")
    assert AuthActions(app.test_client()).login("responder", "a-new-password-1").status_code == 303


def test_admin_creates_edits_disables_and_resets(app, client, auth, staff):
    auth.login("admin")
    token = csrf_token(client, "/staff/users/new")
    bad = client.post("/staff/users/new", data={"csrf_token": token, "username": "x", "role": "responder",
                                                "password": "short", "email": "not-an-email"})
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "部门答复人必须属于一个部门" in text and "邮箱格式不正确" in text
    created = client.post("/staff/users/new", data={
        "csrf_token": token, "username": "wangfang", "display_name": "王芳", "role": "responder",
        "department": str(staff.schools), "email": "wf@example.org", "password": "a-long-password-9"})
    assert created.status_code == 303
    uid = _uid(app, "wangfang")
    registry = client.get("/staff/users/registry").get_data(as_text=True)
    assert "测试县教育局" in registry and "wangfang" in registry and "wf@example.org" in registry

    victim, stolen = _signed_in(app, "wangfang", "a-long-password-9")
    edit = client.post(f"/staff/users/{uid}", data={"csrf_token": token, "display_name": "王芳",
                                                    "role": "responder", "department": str(staff.roads),
                                                    "email": ""})
    assert edit.status_code == 303
    assert "/login" in victim.get("/staff/").headers.get("Location", "")  # rights changed: signed out

    victim, stolen = _signed_in(app, "wangfang", "a-long-password-9")
    refused = client.post(f"/staff/users/{uid}/disable", data={"csrf_token": token, "reason": ""})
    assert refused.status_code == 303
    assert victim.get("/staff/").status_code == 200  # no reason given: not disabled
    client.post(f"/staff/users/{uid}/disable", data={"csrf_token": token, "reason": "调离岗位"})
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert "/login" in replay.get("/staff/").headers.get("Location", "")
    assert AuthActions(app.test_client()).login("wangfang", "a-long-password-9").status_code == 401

    client.post(f"/staff/users/{uid}/enable", data={"csrf_token": token})
    client.post(f"/staff/users/{uid}/password", data={"csrf_token": token, "password": "reset-password-77",
                                                     "reason": "本人忘记密码，电话核实后重置。"})
    assert AuthActions(app.test_client()).login("wangfang", "reset-password-77").status_code == 303
    with app.app_context():
        actions = {a for (a,) in db.session.query(AuditEntry.action).filter_by(subject_id=uid,
                                                                                 subject_type="staff_user")}
    assert {"user.created", "user.updated", "user.disabled", "user.enabled", "user.password_reset"} <= actions


def test_audit_log_filters_and_shows_reasons(app, client, auth, staff):
    auth.login("admin")
    uid = _uid(app, "responder")
    token = csrf_token(client, f"/staff/users/{uid}")
    client.post(f"/staff/users/{uid}/disable", data={"csrf_token": token, "reason": "离职交接"})
    page = client.get("/staff/audit?action=user.disabled").get_data(as_text=True)
    assert "离职交接" in page and "user.login" not in page
