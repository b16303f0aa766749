"""Staff wording: Chinese labels and readable fields in the history and the audit log, no stale text, the crisis
page in the admin's menu, and a required reason for the crisis switches and for password and 2FA resets."""

from __future__ import annotations

import json

from bs4 import BeautifulSoup
from conftest import PASSWORD, AuthActions, ask_and_get_code, csrf_token
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEntry, Question, SiteState, StaffUser


def login(app, username: str):
    client = app.test_client()
    assert AuthActions(client).login(username).status_code == 303
    return client


def uid(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(StaffUser.id).where(StaffUser.username == username))


def last_audit(app, action: str) -> dict:
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id.desc()))
        return json.loads(entry.detail) if entry else {}


def test_history_and_audit_log_read_in_chinese_with_readable_changes(app, staff):
    number, _code = ask_and_get_code(app.test_client())
    with app.app_context():
        qid = db.session.scalar(select(Question.id).where(Question.number == number))
    office = login(app, "office")
    office.post(f"/staff/questions/{qid}/route", data={"csrf_token": csrf_token(office, f"/staff/questions/{qid}"),
                                                       "department": str(staff.roads), "note": "请尽快核实"})
    history = BeautifulSoup(office.get(f"/staff/questions/{qid}").data, "html.parser").select_one("ol.history")
    text = history.get_text(" ", strip=True)
    assert "收到留言" in text and "转交部门办理" in text and "部门：测试县交通运输局" in text
    assert '{"' not in text

    admin = login(app, "admin")
    page = f"/staff/users/{uid(app, 'responder2')}"
    admin.post(page, data={"csrf_token": csrf_token(admin, page), "display_name": "张老师", "role": "office",
                           "department": str(staff.office), "email": ""})
    audit = BeautifulSoup(admin.get("/staff/audit").data, "html.parser")
    row = next(tr for tr in audit.select("tbody tr") if "修改账号" in tr.get_text())
    detail = row.select_one(".detail").get_text(" ", strip=True)
    assert "角色：部门答复人 → 办公室" in detail and "部门：测试县教育局 → 测试县人民政府办公室" in detail
    assert "姓名/署名：responder2 → 张老师" in detail and '{"' not in detail


def test_no_stale_text_and_the_crisis_page_is_in_the_admins_menu(app, staff):
    spokesperson = login(app, "spokesperson")
    home = spokesperson.get("/staff/").get_data(as_text=True)
    assert "即将上线" not in home and "/staff/bulletins" in home and "/staff/press" in home
    admin = login(app, "admin")
    users = admin.get("/staff/users").get_data(as_text=True)
    assert "flask --app" not in users and "/staff/users/new" in users
    menu = BeautifulSoup(admin.get("/staff/audit").data, "html.parser").select_one(".console-bar nav")
    assert menu.select_one('a[href="/staff/crisis"]') is not None
    assert menu.select_one('a[href="/staff/departments"]') is not None


def test_crisis_switches_need_a_reason_kept_in_the_audit_log(app, staff):
    admin = login(app, "admin")
    refused = admin.post("/staff/crisis", data={"csrf_token": csrf_token(admin, "/staff/crisis"), "crisis_mode": "y",
                                                "reason": ""})
    assert refused.status_code == 400 and "请填写切换原因" in refused.get_data(as_text=True)
    with app.app_context():
        state = db.session.get(SiteState, 1)
        assert state is None or not state.crisis_mode
    ok = admin.post("/staff/crisis", data={"csrf_token": csrf_token(admin, "/staff/crisis"), "crisis_mode": "y",
                                           "reason": "汛情升级，首页以事件开头。"})
    assert ok.status_code == 303
    assert last_audit(app, "site.crisis_switches")["reason"] == "汛情升级，首页以事件开头。"
    log = admin.get("/staff/audit").get_data(as_text=True)
    assert "切换危机模式/留言接收" in log and "原因：汛情升级，首页以事件开头。" in log


def test_password_and_2fa_resets_need_a_reason_kept_in_the_audit_log(app, staff):
    admin = login(app, "admin")
    target = uid(app, "spokesperson")
    page = f"/staff/users/{target}"
    refused = admin.post(f"{page}/password", data={"csrf_token": csrf_token(admin, page),
                                                   "password": "a-new-password-42", "reason": ""})
    assert refused.status_code == 400 and "请填写原因" in refused.get_data(as_text=True)
    assert AuthActions(app.test_client()).login("spokesperson", PASSWORD).status_code == 303  # unchanged
    ok = admin.post(f"{page}/password", data={"csrf_token": csrf_token(admin, page),
                                              "password": "a-new-password-42", "reason": "本人遗忘密码，电话核实。"})
    assert ok.status_code == 303
    assert last_audit(app, "user.password_reset")["reason"] == "本人遗忘密码，电话核实。"

    refused = admin.post(f"{page}/totp-reset", data={"csrf_token": csrf_token(admin, page), "reason": " "})
    assert refused.status_code == 400 and "请填写原因" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(StaffUser, target).totp_secret is not None
    ok = admin.post(f"{page}/totp-reset", data={"csrf_token": csrf_token(admin, page), "reason": "手机丢失，重新绑定。"})
    assert ok.status_code == 303
    with app.app_context():
        assert db.session.get(StaffUser, target).totp_secret is None
    assert last_audit(app, "user.totp_reset")["reason"] == "手机丢失，重新绑定。"
