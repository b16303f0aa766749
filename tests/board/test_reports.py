"""Citizens report a published item; after N distinct reports it is hidden pending review; the office restores it."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import Question
from tests.conftest import csrf_token


def _published(app, office_client, client):
    from tests.conftest import ask_and_get_code

    number, _ = ask_and_get_code(client, title="举报测试留言标题", body="这是一条用于举报测试的留言内容。")
    with app.app_context():
        qid = db.session.scalar(select(Question.id).where(Question.number == number))
    token = csrf_token(office_client, f"/staff/questions/{qid}")
    office_client.post(f"/staff/questions/{qid}/reply",
                       data={"body": "网友您好：已经答复，感谢关注。", "publish": "1", "csrf_token": token})
    return number, qid


def _report(app, number, address, reason="privacy"):
    client = app.test_client()
    environ = {"REMOTE_ADDR": address}
    page = client.get(f"/questions/{number}/report", environ_base=environ)
    token = csrf_token(client, f"/questions/{number}/report")
    assert page.status_code == 200
    return client, client.post(f"/questions/{number}/report", data={"reason": reason, "csrf_token": token},
                               environ_base=environ)


def test_reports_hide_after_threshold_and_office_restores(make_app, staff):
    app = make_app(REPORT_HIDE_THRESHOLD=2)
    from tests.conftest import AuthActions

    office = app.test_client()
    AuthActions(office).login("office")
    number, qid = _published(app, office, app.test_client())
    detail = app.test_client().get(f"/questions/{number}")
    assert "举报不当内容" in detail.get_data(as_text=True) and "Set-Cookie" not in detail.headers

    client, first = _report(app, number, "10.0.0.1")
    assert first.status_code == 200 and "感谢您的举报" in first.get_data(as_text=True)
    again = client.post(f"/questions/{number}/report",
                        data={"reason": "privacy", "csrf_token": csrf_token(client, f"/questions/{number}/report")},
                        environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert again.status_code == 409 and "您已举报过" in again.get_data(as_text=True)
    assert app.test_client().get(f"/questions/{number}").status_code == 200  # one report: still public

    _, second = _report(app, number, "10.0.0.2", reason="abusive")
    assert second.status_code == 200
    hidden = app.test_client().get(f"/questions/{number}")  # hidden pending review: said so, content withheld
    assert hidden.status_code == 200 and "正在审核中" in hidden.get_data(as_text=True)
    assert "举报测试留言标题" not in hidden.get_data(as_text=True)
    review = office.get("/staff/reports").get_data(as_text=True)
    assert "举报测试留言标题" in review and "待审核" in review

    token = csrf_token(office, f"/staff/questions/{qid}")
    assert office.post(f"/staff/questions/{qid}/unhide", data={"csrf_token": token}).status_code == 303
    assert app.test_client().get(f"/questions/{number}").status_code == 200
    with app.app_context():
        from portal.models import AuditEntry

        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.subject_id == qid)).all()
    assert actions.count("question.reported") == 2 and "question.hidden_by_reports" in actions
    assert "question.unhidden" in actions


def test_report_refuses_bad_input(app, staff):
    from tests.conftest import AuthActions

    office = app.test_client()
    AuthActions(office).login("office")
    number, _ = _published(app, office, app.test_client())
    client = app.test_client()
    token = csrf_token(client, f"/questions/{number}/report")
    bad = client.post(f"/questions/{number}/report", data={"reason": "whatever", "csrf_token": token})
    assert bad.status_code == 400 and "请选择举报理由" in bad.get_data(as_text=True)
    assert client.post(f"/questions/{number}/report", data={"reason": "privacy"}).status_code == 400  # no CSRF
    assert client.get("/questions/999999/report").status_code == 404
