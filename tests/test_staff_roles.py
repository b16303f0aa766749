"""Who may use the staff console: every /staff route refuses the roles that must not use it.

The route list comes from the app's URL map, so a new /staff route is covered (and must carry a role check)
without editing this file.
"""

from __future__ import annotations

import pytest
from conftest import PASSWORD, AuthActions, ask_and_get_code, csrf_token
from flask import url_for
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from portal.extensions import db
from portal.models import AuditEntry, Question, Reply
from portal.models.staff import ROLES

ROLE_USERS = {"admin": "admin", "office": "office", "responder": "responder", "spokesperson": "spokesperson"}
FORBIDDEN_TEXT = "无权访问"
REPLY_BODY = "网友您好：经核实，解放路路灯已于今日修复，感谢您的反映。"


# ---- helpers --------------------------------------------------------------------------------------------


def staff_rules(app):
    """Every URL rule served by the staff blueprint."""
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("staff.")]
    assert rules, "the staff blueprint has no routes"
    return rules


def rule_url(app, rule, question_id: int) -> str:
    """A concrete URL for the rule, with a real question id for each integer argument."""
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        assert isinstance(converter, IntegerConverter), (
            f"{rule.rule}: argument <{name}> is not an int; teach this test how to fill it in"
        )
        values[name] = question_id
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def rule_methods(rule) -> list[str]:
    return sorted(rule.methods & {"GET", "POST"})


def form_data_for(roads: int) -> dict[str, str]:
    """Valid form data for each staff POST, so a missing check would really change something."""
    return {
        "department": str(roads),
        "note": "请交通局办理",
        "reason": "spam",
        "body": REPLY_BODY,
        "publish": "保存并发布",
    }


def new_question(app, **fields) -> tuple[int, str]:
    """Ask a question from a fresh anonymous browser; returns its id and public number."""
    number, _code = ask_and_get_code(app.test_client(), **fields)
    with app.app_context():
        qid = db.session.scalar(select(Question.id).where(Question.number == number))
    assert qid is not None
    return qid, number


def login_client(app, username: str):
    """A new browser signed in as `username` through the real form."""
    client = app.test_client()
    response = AuthActions(client).login(username)
    assert response.status_code == 303, f"{username} could not sign in ({response.status_code})"
    return client


def route_to(app, question_id: int, department_id: int) -> None:
    """The office sends the question to a department, through the console."""
    office = login_client(app, "office")
    token = csrf_token(office, f"/staff/questions/{question_id}")
    response = office.post(
        f"/staff/questions/{question_id}/route", data={"csrf_token": token, "department": str(department_id)}
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]


def snapshot(app):
    """Everything a staff POST could change about questions: states, departments, replies, their audit rows."""
    with app.app_context():
        questions = db.session.execute(
            select(Question.id, Question.status, Question.department_id, Question.published_at).order_by(Question.id)
        ).all()
        replies = db.session.execute(select(Reply.question_id, Reply.body_md, Reply.published_at)).all()
        audits = db.session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.subject_type == "question")
        )
        return [tuple(r) for r in questions], [tuple(r) for r in replies], audits


def is_login_redirect(response) -> bool:
    return response.status_code in (302, 303) and "/login" in response.headers.get("Location", "")


def is_login_refusal(response, typed: str) -> bool:
    """A POST with typed text from someone not signed in: 401, the text shown back, and a link to sign in."""
    page = response.get_data(as_text=True)
    return response.status_code == 401 and 'href="/login' in page and typed in page


# ---- every route has a role check -----------------------------------------------------------------------


def test_every_staff_route_has_a_role_check(app):
    for rule in staff_rules(app):
        view = app.view_functions[rule.endpoint]
        allowed = getattr(view, "allowed_roles", None)
        assert isinstance(allowed, frozenset), f"{rule.rule} ({rule.endpoint}) is not wrapped by roles_required"
        assert allowed, f"{rule.rule} allows no role at all"
        assert allowed <= set(ROLES), f"{rule.rule} names unknown roles {sorted(allowed - set(ROLES))}"


# ---- the role matrix ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(ROLE_USERS))
def test_every_staff_route_refuses_roles_not_allowed(app, client, auth, staff, role):
    qid, _number = new_question(app)
    response = auth.login(ROLE_USERS[role])
    assert response.status_code == 303
    token = csrf_token(client, "/staff/")
    before = snapshot(app)

    checked, wrong = [], []
    for rule in staff_rules(app):
        allowed = app.view_functions[rule.endpoint].allowed_roles
        if role in allowed:
            continue
        url = rule_url(app, rule, qid)
        for method in rule_methods(rule):
            if method == "GET":
                response = client.get(url)
            else:
                response = client.post(url, data={"csrf_token": token, **form_data_for(staff.roads)})
            checked.append(f"{method} {url}")
            if response.status_code != 403 or FORBIDDEN_TEXT not in response.get_data(as_text=True):
                wrong.append(f"{method} {url} -> {response.status_code}")

    assert checked, f"no /staff route is closed to {role}: the matrix would test nothing"
    assert not wrong, f"{role} was not refused with 403: {wrong}"
    assert snapshot(app) == before, f"a refused request by {role} changed a question"
    # Still signed in: the 403s were refusals, not a lost session.
    assert client.get("/staff/").status_code == 200


def test_anonymous_get_of_every_staff_route_goes_to_login(app, client, staff):
    qid, _number = new_question(app)
    for rule in staff_rules(app):
        if "GET" not in rule.methods:
            continue
        url = rule_url(app, rule, qid)
        response = client.get(url)
        assert is_login_redirect(response), f"GET {url} -> {response.status_code} {response.headers.get('Location')}"


def test_anonymous_post_to_every_staff_route_is_refused(app, client, staff):
    qid, _number = new_question(app)
    before = snapshot(app)
    token = csrf_token(client, "/ask")  # an anonymous visitor has a session and a valid token
    posts = [rule for rule in staff_rules(app) if "POST" in rule.methods]
    assert posts, "no staff POST routes found"
    for rule in posts:
        url = rule_url(app, rule, qid)
        data = form_data_for(staff.roads)
        without_token = client.post(url, data=data)
        assert without_token.status_code == 400, f"POST {url} without token -> {without_token.status_code}"
        with_token = client.post(url, data={"csrf_token": token, **data})
        # Refused and sent to sign in; what was typed comes back to copy (401 page with the login link), not lost.
        assert is_login_refusal(with_token, data["body"]), f"POST {url} anonymous -> {with_token.status_code}"
    assert snapshot(app) == before


# ---- the object-level rule: a responder handles only their own department's routed questions ------------


def test_responder_of_another_department_is_refused(app, staff):
    qid, _number = new_question(app)
    route_to(app, qid, staff.roads)
    before = snapshot(app)

    other = login_client(app, "responder2")  # 教育
    token = csrf_token(other, "/staff/")
    assert other.get(f"/staff/questions/{qid}").status_code == 403
    reply = other.post(
        f"/staff/questions/{qid}/reply", data={"csrf_token": token, "body": REPLY_BODY, "publish": "保存并发布"}
    )
    assert reply.status_code == 403
    assert other.post(f"/staff/questions/{qid}/publish", data={"csrf_token": token}).status_code == 403
    assert snapshot(app) == before
    # Not in their queue either.
    assert f"/staff/questions/{qid}" not in other.get("/staff/").get_data(as_text=True)

    own = login_client(app, "responder")  # 交通
    page = own.get(f"/staff/questions/{qid}")
    assert page.status_code == 200
    assert "解放路路灯不亮何时修" in page.get_data(as_text=True)
    assert f"/staff/questions/{qid}" in own.get("/staff/").get_data(as_text=True)


def test_responder_cannot_open_a_question_not_yet_routed(app, staff):
    # The citizen picked 交通 on the form, but the office has not routed it yet.
    qid, _number = new_question(app, department=str(staff.roads))
    with app.app_context():
        question = db.session.get(Question, qid)
        assert (question.status, question.department_id) == ("received", staff.roads)
    before = snapshot(app)
    responder = login_client(app, "responder")
    token = csrf_token(responder, "/staff/")
    assert responder.get(f"/staff/questions/{qid}").status_code == 403
    reply = responder.post(f"/staff/questions/{qid}/reply", data={"csrf_token": token, "body": REPLY_BODY})
    assert reply.status_code == 403
    assert snapshot(app) == before


# ---- positive checks: the matrix is not vacuous ---------------------------------------------------------


@pytest.mark.parametrize("role", list(ROLE_USERS))
def test_every_role_can_open_its_queue(app, staff, role):
    client = login_client(app, ROLE_USERS[role])
    assert client.get("/staff/").status_code == 200


def test_office_can_open_queue_and_question(app, staff):
    qid, number = new_question(app)
    office = login_client(app, "office")
    queue = office.get("/staff/")
    assert queue.status_code == 200
    assert f"/staff/questions/{qid}" in queue.get_data(as_text=True)
    detail = office.get(f"/staff/questions/{qid}")
    assert detail.status_code == 200
    assert number in detail.get_data(as_text=True)


def test_admin_can_open_users_and_audit(app, staff):
    admin = login_client(app, "admin")
    users = admin.get("/staff/users")
    assert users.status_code == 200
    assert "responder2" in users.get_data(as_text=True)
    audit = admin.get("/staff/audit")
    assert audit.status_code == 200
    assert "user.login" in audit.get_data(as_text=True)


@pytest.mark.parametrize("role", ["office", "responder", "spokesperson"])
@pytest.mark.parametrize("path", ["/staff/users", "/staff/audit", "/staff/departments",
                                  "/staff/departments/1", "/staff/crisis", "/staff/subscriptions/suspended"])
def test_non_admins_cannot_open_users_or_audit(app, staff, role, path):
    client = login_client(app, ROLE_USERS[role])
    response = client.get(path)
    assert response.status_code == 403
    assert FORBIDDEN_TEXT in response.get_data(as_text=True)
    assert "responder2" not in response.get_data(as_text=True)


# ---- sign-out ends the session --------------------------------------------------------------------------


def test_session_cookie_copied_before_logout_no_longer_works(client, auth, staff):
    assert auth.login("office").status_code == 303
    assert client.get("/staff/").status_code == 200
    cookie = client.get_cookie("session")
    assert cookie is not None
    stolen = cookie.value

    response = auth.logout()
    assert response.status_code == 303
    assert client.get("/staff/").status_code == 302

    client.set_cookie("session", stolen)
    replay = client.get("/staff/")
    assert is_login_redirect(replay), f"old session cookie still opens /staff/ ({replay.status_code})"


def test_wrong_password_does_not_sign_in(client, auth, staff):
    response = auth.login("office", PASSWORD + "x")
    assert response.status_code == 401
    assert is_login_redirect(client.get("/staff/"))


# ---- review and handling in steps (issue 16): the new routes, and the object-level rule on each ----------

HANDLING_POSTS = ["submit", "review/return", "steps/review", "interim", "extension", "extension/decide", "redo",
                  "supplement", "opinion"]


def test_the_handling_routes_are_in_the_matrix_with_their_roles(app):
    allowed = {rule.rule: app.view_functions[rule.endpoint].allowed_roles for rule in staff_rules(app)}
    expected = {
        "submit": {"responder"}, "review/return": {"office"}, "steps/review": {"office"},
        "interim": {"office", "responder"},
        "extension": {"office", "responder"}, "extension/decide": {"office"}, "redo": {"office"},
        "supplement": {"office", "responder"}, "opinion": {"responder"},
    }
    for action, roles in expected.items():
        assert allowed[f"/staff/questions/<int:question_id>/{action}"] == roles, action


def test_responder_of_another_department_cannot_use_the_handling_routes(app, staff):
    qid, _number = new_question(app)
    route_to(app, qid, staff.roads)
    before = snapshot(app)
    other = login_client(app, "responder2")  # 教育, not a co-department
    token = csrf_token(other, "/staff/")
    data = {"csrf_token": token, "body": REPLY_BODY, "comment": "请修改", "days": "2", "reason": "需要现场勘察后答复",
            "note": "同意", "approve": "批准延期", "step": "1", "publish_step": "通过并公开"}
    for action in HANDLING_POSTS:
        response = other.post(f"/staff/questions/{qid}/{action}", data=data)
        assert response.status_code == 403, f"{action} -> {response.status_code}"
    assert snapshot(app) == before
