"""The whole path through the HTTP client: ask, track, route, answer, publish, read on the board, rate."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEntry, Question
from tests.conftest import ask_and_get_code, csrf_token


def _question_id(app, number: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Question.id).where(Question.number == number))


def _track(client, number: str, code: str):
    token = csrf_token(client, "/track")
    return client.post("/track", data={"number": number, "code": code, "csrf_token": token})


def test_citizen_to_board_and_back(app, client, auth, staff):
    # A citizen asks, without an account, and gets a number and a code once.
    number, code = ask_and_get_code(
        client, title="东门路口红绿灯时间太短", body="东门路口行人绿灯只有15秒，老人过马路来不及，建议延长。"
    )
    assert len(code.replace("-", "")) >= 10
    again = client.get("/ask/done").get_data(as_text=True)
    assert code not in again and "只显示一次" in again

    # Tracking shows it received; the board does not show it yet.
    page = _track(client, number, code).get_data(as_text=True)
    assert "已受理，待分办" in page and "东门路口红绿灯时间太短" in page
    assert "东门路口红绿灯时间太短" not in client.get("/questions").get_data(as_text=True)
    assert client.get(f"/questions/{number}").status_code == 404

    # The office routes it to 交通运输局.
    qid = _question_id(app, number)
    auth.login("office")
    queue = client.get("/staff/").get_data(as_text=True)
    assert "东门路口红绿灯时间太短" in queue
    token = csrf_token(client, f"/staff/questions/{qid}")
    r = client.post(
        f"/staff/questions/{qid}/route", data={"department": str(staff.roads), "note": "", "csrf_token": token}
    )
    assert r.status_code == 303
    auth.logout()

    # The responder of that department sees it in the queue, previews, saves and submits a reply for review (审核).
    auth.login("responder")
    assert "东门路口红绿灯时间太短" in client.get("/staff/").get_data(as_text=True)
    reply = "网友您好：\n\n经核实，我局已将东门路口行人绿灯延长至**30秒**。\n\n感谢您对我们工作的关注和支持。"
    token = csrf_token(client, f"/staff/questions/{qid}")
    preview = client.post(f"/staff/questions/{qid}/reply", data={"body": reply, "preview": "1", "csrf_token": token})
    assert preview.status_code == 200 and "<strong>30秒</strong>" in preview.get_data(as_text=True)
    r = client.post(f"/staff/questions/{qid}/reply", data={"body": reply, "save": "1", "csrf_token": token})
    assert r.status_code == 303
    assert client.get(f"/questions/{number}").status_code == 404  # a draft is not public
    assert "答复拟稿中" in _track(app.test_client(), number, code).get_data(as_text=True)
    r = client.post(f"/staff/questions/{qid}/publish", data={"csrf_token": token})
    assert r.status_code == 403  # review is on: a responder cannot publish
    r = client.post(f"/staff/questions/{qid}/submit", data={"csrf_token": token})
    assert r.status_code == 303
    assert client.get(f"/questions/{number}").status_code == 404  # under review: not public yet
    assert "答复审核中" in _track(app.test_client(), number, code).get_data(as_text=True)
    auth.logout()

    # The office reviews and publishes it.
    auth.login("office")
    token = csrf_token(client, f"/staff/questions/{qid}")
    r = client.post(f"/staff/questions/{qid}/publish", data={"csrf_token": token})
    assert r.status_code == 303
    auth.logout()

    # The board shows it with the department, the date and the time it took.
    board = client.get("/questions").get_data(as_text=True)
    assert "东门路口红绿灯时间太短" in board and "测试县交通运输局" in board
    detail = client.get(f"/questions/{number}").get_data(as_text=True)
    assert "<strong>30秒</strong>" in detail and "用时" in detail and "测试县交通运输局" in detail
    assert "东门路口红绿灯时间太短" in client.get("/").get_data(as_text=True)
    assert "东门路口红绿灯时间太短" in client.get("/questions?department=jtj").get_data(as_text=True)
    assert "东门路口红绿灯时间太短" not in client.get("/questions?department=jyj").get_data(as_text=True)

    # The citizen sees the reply and rates it once.
    page = _track(client, number, code).get_data(as_text=True)
    assert "已答复" in page and "30秒" in page and code not in page
    token = csrf_token(client, "/track")
    r = client.post(
        "/track/rate", data={"number": number, "rating": "satisfied", "comment": "很快", "csrf_token": token}
    )
    assert r.status_code == 200 and "您的评价：<strong>满意</strong>" in r.get_data(as_text=True)
    r = client.post("/track/rate", data={"number": number, "rating": "unsatisfied", "csrf_token": token})
    assert r.status_code == 409

    # Every step is on the record.
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.subject_id == qid, AuditEntry.subject_type == "question")
        ).all()
    assert actions == ["question.received", "question.routed", "reply.saved", "reply.submitted", "reply.published",
                       "question.rated"]


def test_office_rejects_with_reason_kept_private(app, client, auth, staff):
    number, code = ask_and_get_code(
        client, title="出售二手手机联系我", body="全新二手手机低价出售，有意者加微信联系，价格面议。"
    )
    qid = _question_id(app, number)
    auth.login("office")
    token = csrf_token(client, f"/staff/questions/{qid}")
    r = client.post(f"/staff/questions/{qid}/reject",
                    data={"reason": "spam", "note": "同一微信号本周第三次发帖", "csrf_token": token})
    assert r.status_code == 303
    assert "出售二手手机联系我" not in client.get("/staff/").get_data(as_text=True)
    detail = client.get(f"/staff/questions/{qid}").get_data(as_text=True)
    assert "垃圾信息或广告" in detail and "同一微信号本周第三次发帖" in detail
    auth.logout()
    # The citizen is told 不予受理 and the public reason; the office's note stays private.
    page = _track(client, number, code).get_data(as_text=True)
    assert "不予受理" in page and "垃圾信息或广告" in page and "同一微信号本周第三次发帖" not in page
    assert client.get(f"/questions/{number}").status_code == 404


def test_office_answers_in_its_own_name(app, client, auth, staff):
    number, _ = ask_and_get_code(
        client, title="办事大厅周六是否上班", body="请问县政务服务中心周六上午是否可以办理社保业务？"
    )
    qid = _question_id(app, number)
    auth.login("office")
    token = csrf_token(client, f"/staff/questions/{qid}")
    body = "网友您好：周六上午九点至十二点，政务服务中心社保窗口正常办理业务。"
    r = client.post(f"/staff/questions/{qid}/reply", data={"body": body, "publish": "1", "csrf_token": token})
    assert r.status_code == 303
    detail = client.get(f"/questions/{number}").get_data(as_text=True)
    assert "政务服务中心社保窗口" in detail and "测试县人民政府办公室" in detail


def test_quota_per_client_holds_in_the_database(make_app):
    app = make_app(ASK_QUOTA_PER_HOUR=2)
    client = app.test_client()
    ask_and_get_code(client)
    ask_and_get_code(client, title="第二条留言标题示例")
    from tests.conftest import ask

    third = ask(client, title="第三条留言标题示例")
    assert third.status_code == 429
    page = third.get_data(as_text=True)
    assert "每小时最多提交 2 条" in page and "第三条留言标题示例" in page
    # A second app (another worker) sharing the database sees the same count.
    other = make_app(ASK_QUOTA_PER_HOUR=2).test_client()
    assert ask(other, title="第四条留言标题示例").status_code == 429
    with app.app_context():
        rows = db.session.scalars(select(Question.poster_fingerprint)).all()
    assert len(rows) == 2 and all(fp and "127.0.0.1" not in fp for fp in rows)


def test_due_time_and_overdue_marking(app, client, auth, staff):
    from datetime import timedelta

    from portal.timeutil import utcnow

    number, _ = ask_and_get_code(
        client, title="小区停水没有提前通知", body="今天上午小区突然停水，没有任何通知，请问什么时候恢复？"
    )
    with app.app_context():
        q = db.session.scalar(select(Question).where(Question.number == number))
        assert q.due_at is not None and q.due_at > q.received_at
        q.due_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    auth.login("office")
    queue = client.get("/staff/").get_data(as_text=True)
    assert "is-overdue" in queue and "已超时" in queue
