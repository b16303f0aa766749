"""Closing the loop on a watched item through the console: registered screen names, triage, assignment with
notices and the board's clock, answers (an unregistered screen name refused), notes, closing with a grade,
escalation onto a memo next to board questions, and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import csrf_token
from loop_helpers import make_item, make_source
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEntry, Memo, Notification, WatchAnswer, WatchItem
from portal.services.clock import rule_from_config

# Monday 2026-11-02 10:00 Beijing: before the 16:00 cut-off, so due the same day at 18:00.
FIRST_SEEN = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def _setup(app, staff):
    with app.app_context():
        forum = make_source(db.session, "测试县论坛", "论坛", staff.roads)
        item = make_item(db.session, forum, "解放路井盖缺失无人管", FIRST_SEEN, text="解放路与人民路交叉口井盖缺失三天。")
        db.session.commit()
        return item.id


def _register(client, **fields):
    token = csrf_token(client, "/staff/screen-names")
    return client.post("/staff/screen-names", data={"csrf_token": token, **fields})


def _user_id(app, username):
    from portal.models import StaffUser

    with app.app_context():
        return db.session.scalar(select(StaffUser.id).where(StaffUser.username == username))


def _post(client, item_id, step, **fields):
    token = csrf_token(client, f"/staff/watch/items/{item_id}")
    return client.post(f"/staff/watch/items/{item_id}/{step}", data={"csrf_token": token, **fields})


def test_registry_registers_refuses_duplicates_and_exports(app, client, auth, staff):
    auth.login("office")
    response = _register(client, platform="论坛", name="交通小蓝", staff_user=str(_user_id(app, "responder")))
    assert response.status_code == 303
    response = _register(client, platform="论坛", name="交通小蓝", staff_user=str(_user_id(app, "responder2")))
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "已经备案" in page and 'value="交通小蓝"' in page
    assert _register(client, platform="微博", name="测试县发布", official="1").status_code == 303
    page = client.get("/staff/screen-names").get_data(as_text=True)
    assert "办公室（官方账号）（1 个网名）" in page and "测试县交通运输局（1 个网名）" in page

    from io import BytesIO

    from openpyxl import load_workbook

    response = client.get("/staff/screen-names.xlsx")
    rows = [list(r) for r in load_workbook(BytesIO(response.data)).active.iter_rows(values_only=True)]
    assert rows[0][:3] == ["部门", "平台", "网名"]
    assert ["办公室（官方账号）", "微博", "测试县发布"] == rows[1][:3]
    assert ["测试县交通运输局", "论坛", "交通小蓝"] == rows[2][:3]


def test_the_whole_loop_from_triage_to_grade(app, client, auth, staff):
    item_id = _setup(app, staff)
    auth.login("office")
    assert _register(client, platform="论坛", name="交通小蓝", staff_user=str(_user_id(app, "responder"))).status_code == 303
    # A name registered on another platform does not count on the forum.
    assert _register(client, platform="微博", name="交通小绿", staff_user=str(_user_id(app, "responder"))).status_code == 303

    response = _post(client, item_id, "assign", department=str(staff.roads), co_departments=str(staff.schools),
                     note="请尽快核实")
    assert response.status_code == 303
    with app.app_context():
        item = db.session.get(WatchItem, item_id)
        assert item.status_label == "已交办"
        assert item.due_at == rule_from_config(app.config).due_at(FIRST_SEEN)
        assert item.due_at == datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # 18:00 Beijing the same day
        told = {n.department_id for n in db.session.scalars(select(Notification).where(
            Notification.watch_item_id == item_id))}
        assert told == {staff.roads, staff.schools}
    auth.logout()

    auth.login("responder")
    assert "解放路井盖缺失无人管" in client.get("/staff/notices").get_data(as_text=True)
    answer = {"url": "http://bbs.example/thread-9-reply.html", "answered_at": "2026-11-02 15:30",
              "text": "网友您好，已安排养护人员今天下午补装井盖。"}
    refused = _post(client, item_id, "answer", screen_name="路过的网友", **answer)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "不是论坛上的备案网名" in page
    assert "已安排养护人员今天下午补装井盖" in page and "thread-9-reply" in page  # nothing typed is lost
    wrong_platform = _post(client, item_id, "answer", screen_name="交通小绿", **answer)
    assert wrong_platform.status_code == 400 and "不是论坛上的备案网名" in wrong_platform.get_data(as_text=True)
    assert _post(client, item_id, "answer", screen_name="交通小蓝", **answer).status_code == 303
    assert _post(client, item_id, "note", body="已电话联系发帖人").status_code == 303
    page = client.get(f"/staff/watch/items/{item_id}").get_data(as_text=True)
    assert "已回应" in page and "交通小蓝" in page and "按时" in page and "已电话联系发帖人" in page
    auth.logout()

    auth.login("office")
    assert _post(client, item_id, "close", grade="极好").status_code == 400
    assert _post(client, item_id, "close", grade="好").status_code == 303
    with app.app_context():
        item = db.session.get(WatchItem, item_id)
        assert (item.status, item.grade) == ("closed", "好")
        assert item.answered_at == datetime(2026, 11, 2, 7, 30, tzinfo=UTC)
        answers = list(db.session.scalars(select(WatchAnswer)))
        assert [a.screen_name.name for a in answers] == ["交通小蓝"]
        actions = list(db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.subject_type == "watch_item", AuditEntry.subject_id == item_id).order_by(AuditEntry.id)))
        assert actions == ["watch.assigned", "watch.answered", "watch.note", "watch.closed"]


def test_a_responder_may_not_answer_an_item_of_another_department(app, client, auth, staff):
    item_id = _setup(app, staff)
    auth.login("office")
    _register(client, platform="论坛", name="教育小红", staff_user=str(_user_id(app, "responder2")))
    assert _post(client, item_id, "assign", department=str(staff.roads)).status_code == 303
    auth.logout()
    auth.login("responder2")
    response = _post(client, item_id, "answer", screen_name="教育小红", url="http://bbs.example/r.html", text="回应")
    assert response.status_code == 403 and "没有交办给您的部门" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(WatchAnswer.id))) == 0


def test_dismiss_needs_a_reason_and_ends_the_item(app, client, auth, staff):
    item_id = _setup(app, staff)
    auth.login("office")
    assert _post(client, item_id, "dismiss", reason="").status_code == 400
    assert _post(client, item_id, "dismiss", reason="广告帖，与本地无关").status_code == 303
    page = client.get(f"/staff/watch/items/{item_id}").get_data(as_text=True)
    assert "无需处置" in page and "广告帖，与本地无关" in page
    assert _post(client, item_id, "assign", department=str(staff.roads)).status_code == 409


def test_escalated_item_goes_on_the_existing_memo_next_to_a_question(app, client, auth, staff):
    from conftest import ask_and_get_code

    number, _code = ask_and_get_code(app.test_client())
    item_id = _setup(app, staff)
    auth.login("office")
    with app.app_context():
        from portal.models import Question

        qid = db.session.scalar(select(Question.id).where(Question.number == number))
        db.session.get(Question, qid).is_major = True
        db.session.commit()
    assert _post(client, item_id, "assign", department=str(staff.roads)).status_code == 303
    assert _post(client, item_id, "escalate").status_code == 303
    token = csrf_token(client, "/staff/memos")
    assert "解放路井盖缺失无人管" in client.get("/staff/memos").get_data(as_text=True)
    response = client.post("/staff/memos", data={
        "csrf_token": token, "ids": str(qid), "watch_ids": str(item_id), "title": "解放路井盖及路灯问题",
        "department": str(staff.roads), "summary": "网民集中反映", "suggestion": "请交通局三日内整改"})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    with app.app_context():
        memo = db.session.scalar(select(Memo))
        assert [(i.question_id, i.watch_item_id) for i in memo.items] == [(qid, None), (None, item_id)]
        assert db.session.get(WatchItem, item_id).severity == "重大"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "涉及留言及监测信息（2 条）" in page and "解放路井盖缺失无人管" in page and "在论坛（测试县论坛）发现" in page
    assert "标记为重大舆情" in page


def test_overdue_sweep_tells_the_department_once(app, client, auth, staff):
    from portal.services.watch.handling import notify_overdue

    item_id = _setup(app, staff)
    auth.login("office")
    assert _post(client, item_id, "assign", department=str(staff.roads)).status_code == 303
    with app.app_context():
        due = db.session.get(WatchItem, item_id).due_at
        from datetime import timedelta

        assert notify_overdue(db.session, due - timedelta(minutes=1)) == 0
        assert notify_overdue(db.session, due + timedelta(minutes=1)) == 1
        assert notify_overdue(db.session, due + timedelta(hours=5)) == 0
        kinds = list(db.session.scalars(select(Notification.kind).where(Notification.watch_item_id == item_id,
                                                                        Notification.department_id == staff.roads)))
        assert sorted(kinds) == ["overdue", "routed"]
