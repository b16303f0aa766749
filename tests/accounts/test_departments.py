"""Departments kept by the admin (screen and command line), imports that name unknown or old departments, and
old unanswered questions imported as history."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from bs4 import BeautifulSoup
from conftest import AuthActions, ask_and_get_code, csrf_token
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEntry, Department, Notification, Question, StaffUser
from portal.timeutil import to_beijing, utcnow

ANSWERED = {
    "external_id": "old-1", "title": "北河桥下有人倾倒垃圾", "body": "北河桥下经常有人倾倒建筑垃圾。",
    "asked_at": "2025-03-02 09:30:00", "department": "测试县交通运输局", "category": "投诉",
    "reply": "网友您好：已安排清理。", "replied_at": "2025-03-03T10:00:00+08:00",
}


def admin_client(app):
    client = app.test_client()
    assert AuthActions(client).login("admin").status_code == 303
    return client


def write_lines(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def post(client, url: str, page: str, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **data})


def number_of(app, external_id: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Question.number).where(Question.external_id == external_id))


def test_admin_adds_a_department_on_screen_and_citizens_can_choose_it(app, staff):
    admin = admin_client(app)
    assert "/staff/departments" in admin.get("/staff/").get_data(as_text=True)  # in the admin's menu
    response = post(admin, "/staff/departments", "/staff/departments", name="测试县青石镇人民政府", slug="qsz",
                    description="")
    assert response.status_code == 303
    assert "测试县青石镇人民政府" in app.test_client().get("/ask").get_data(as_text=True)
    listing = admin.get("/staff/departments").get_data(as_text=True)
    assert "测试县青石镇人民政府" in listing and "在用" in listing


def test_bad_department_input_is_refused_with_the_text_kept(app, staff):
    admin = admin_client(app)
    response = post(admin, "/staff/departments", "/staff/departments", name="测试县交通运输局", slug="Bad Slug!",
                    description="保留的简介")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "已有名为“测试县交通运输局”的部门" in text and "网址标识只能用小写字母" in text and "保留的简介" in text
    with app.app_context():
        assert db.session.scalar(select(func.count(Department.id))) == 3


def test_a_rename_keeps_the_name_an_answer_was_given_under(app, runner, staff, tmp_path):
    assert runner.invoke(args=["import-questions", str(write_lines(tmp_path / "a.jsonl", [ANSWERED]))]).exit_code == 0
    admin = admin_client(app)
    response = post(admin, f"/staff/departments/{staff.roads}/rename", f"/staff/departments/{staff.roads}",
                    name="测试县交通运输和城乡建设局")
    assert response.status_code == 303
    number = number_of(app, "old-1")
    page = app.test_client().get(f"/questions/{number}").get_data(as_text=True)
    assert "测试县交通运输局" in page and "测试县交通运输和城乡建设局" not in page
    assert "测试县交通运输和城乡建设局" in app.test_client().get("/ask").get_data(as_text=True)
    edit = admin.get(f"/staff/departments/{staff.roads}").get_data(as_text=True)
    assert "曾用名" in edit and "测试县交通运输局" in edit
    # A file that still uses the old name imports under the renamed department.
    later = {**ANSWERED, "external_id": "old-2", "reply": "", "replied_at": "", "asked_at": to_beijing(utcnow()).isoformat()}
    result = runner.invoke(args=["import-questions", str(write_lines(tmp_path / "b.jsonl", [later]))])
    assert "导入 1 条" in result.output and "未知部门" not in result.output
    with app.app_context():
        q = db.session.scalar(select(Question).where(Question.external_id == "old-2"))
        assert q.department_id == staff.roads
        assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.action == "department.renamed"))


def test_retiring_is_refused_while_questions_are_open_then_the_department_is_no_longer_offered(app, staff):
    admin = admin_client(app)
    office = app.test_client()
    assert AuthActions(office).login("office").status_code == 303
    number, _code = ask_and_get_code(app.test_client())
    with app.app_context():
        qid = db.session.scalar(select(Question.id).where(Question.number == number))
    route = post(office, f"/staff/questions/{qid}/route", f"/staff/questions/{qid}", department=str(staff.schools))
    assert route.status_code in (302, 303)
    page = f"/staff/departments/{staff.schools}"
    refused = post(admin, f"{page}/retire", page, reason="机构改革")
    assert refused.status_code == 400 and "还有 1 条未办结的留言" in refused.get_data(as_text=True)
    assert post(admin, f"{page}/retire", page, reason="").status_code == 400
    with app.app_context():
        db.session.get(Question, qid).status = "rejected"
        db.session.commit()
    assert post(admin, f"{page}/retire", page, reason="机构改革，职能划入县政府办公室").status_code == 303
    assert "测试县教育局" not in app.test_client().get("/ask").get_data(as_text=True)
    assert "已撤销" in admin.get("/staff/departments").get_data(as_text=True)


def test_merging_moves_staff_and_open_questions_and_keeps_answers_under_the_old_name(app, runner, staff, tmp_path):
    waiting = {**ANSWERED, "external_id": "open-1", "reply": "", "replied_at": "",
               "asked_at": to_beijing(utcnow()).isoformat(), "department": "测试县教育局"}
    answered = {**ANSWERED, "external_id": "done-1", "department": "测试县教育局"}
    runner.invoke(args=["import-questions", str(write_lines(tmp_path / "a.jsonl", [waiting, answered]))])
    admin = admin_client(app)
    page = f"/staff/departments/{staff.schools}"
    response = post(admin, f"{page}/merge", page, target=str(staff.roads), reason="机构改革")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(StaffUser.department_id).where(StaffUser.username == "responder2")) == staff.roads
        open_q = db.session.scalar(select(Question).where(Question.external_id == "open-1"))
        done_q = db.session.scalar(select(Question).where(Question.external_id == "done-1"))
        assert open_q.department_id == staff.roads and done_q.department_id == staff.schools
    answer = app.test_client().get(f"/questions/{number_of(app, 'done-1')}").get_data(as_text=True)
    assert "测试县教育局" in answer
    assert "已并入测试县交通运输局" in admin.get("/staff/departments").get_data(as_text=True)
    # Merging into itself or a retired department is refused with a message.
    again = post(admin, f"/staff/departments/{staff.roads}/merge", f"/staff/departments/{staff.roads}",
                 target=str(staff.schools), reason="x")
    assert again.status_code == 400


def test_the_command_line_manages_departments(app, runner, staff):
    assert "已新增部门" in runner.invoke(args=["departments", "add", "测试县石门乡人民政府", "--slug", "smx"]).output
    out = runner.invoke(args=["departments", "rename", "smx", "测试县石门镇人民政府"]).output
    assert "已将 测试县石门乡人民政府 更名为 测试县石门镇人民政府" in out
    listed = runner.invoke(args=["departments", "list"]).output
    assert "测试县石门镇人民政府" in listed and "曾用名：测试县石门乡人民政府" in listed
    merged = runner.invoke(args=["departments", "merge", "测试县石门乡人民政府", "jtj", "--reason", "撤乡并镇"])
    assert merged.exit_code == 0 and "并入 测试县交通运输局" in merged.output
    bad = runner.invoke(args=["departments", "retire", "不存在的局", "--reason", "x"])
    assert bad.exit_code != 0 and "没有部门“不存在的局”" in bad.output


def test_import_reports_unknown_departments_by_line_and_a_map_imports_them(app, runner, staff, tmp_path):
    rows = [
        {**ANSWERED, "external_id": "u-1", "department": "县城管局"},
        {**ANSWERED, "external_id": "u-2"},
        {**ANSWERED, "external_id": "u-3", "department": "县城管局"},
        {**ANSWERED, "external_id": "u-4", "department": "县老干部局"},
    ]
    path = write_lines(tmp_path / "in.jsonl", rows)
    first = runner.invoke(args=["import-questions", str(path)])
    assert "导入 1 条" in first.output
    assert "县城管局：2 行（第 1、3 行）" in first.output and "县老干部局：1 行（第 4 行）" in first.output
    mapping = tmp_path / "map.csv"
    mapping.write_text("# 未知名称,部门\n县城管局,jtj\n县老干部局,\n", encoding="utf-8")
    second = runner.invoke(args=["import-questions", str(path), "--map", str(mapping)])
    assert "导入 3 条" in second.output and "未知部门" not in second.output
    with app.app_context():
        by_id = dict(db.session.execute(select(Question.external_id, Question.department_id)).all())
    assert by_id["u-1"] == by_id["u-3"] == staff.roads and by_id["u-4"] is None
    bad_map = tmp_path / "bad.csv"
    bad_map.write_text("县城管局,县不存在的局\n", encoding="utf-8")
    refused = runner.invoke(args=["import-questions", str(path), "--map", str(bad_map)])
    assert refused.exit_code != 0 and "第 1 行：没有部门“县不存在的局”" in refused.output


def test_old_unanswered_questions_are_imported_as_history_and_fire_no_notice(app, runner, staff, tmp_path):
    old = {**ANSWERED, "external_id": "h-1", "title": "去年的未答复留言", "reply": "", "replied_at": ""}
    fresh = {**ANSWERED, "external_id": "h-2", "title": "刚收到的留言", "reply": "", "replied_at": "",
             "asked_at": to_beijing(utcnow() + timedelta(minutes=-1)).isoformat()}
    result = runner.invoke(args=["import-questions", str(write_lines(tmp_path / "h.jsonl", [old, fresh]))])
    assert "其中 1 条未答复且导入时已过答复时限，作为历史记录导入" in result.output
    assert "新发出 0 条" in runner.invoke(args=["notify-overdue"]).output
    with app.app_context():
        assert db.session.scalar(select(func.count(Notification.id))) == 0
        flags = dict(db.session.execute(select(Question.external_id, Question.imported_history)).all())
    assert flags == {"h-1": True, "h-2": False}
    office = app.test_client()
    assert AuthActions(office).login("office").status_code == 303
    clock = office.get("/staff/clock").get_data(as_text=True)
    assert "去年的未答复留言" not in clock
    queue = BeautifulSoup(office.get("/staff/desk").data, "html.parser")
    row = next(tr for tr in queue.select("tr") if "去年的未答复留言" in tr.get_text())
    assert "历史导入" in row.get_text() and "已超时" not in row.get_text()
