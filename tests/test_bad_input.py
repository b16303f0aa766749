"""Bad input: every form refuses it with a Chinese message next to the field and keeps what the user typed.

Also: a POST without a CSRF token gets 400; a wrong tracking code gets the same answer as an unknown number;
failed sign-ins never reveal whether a username exists; malformed query strings and paths get 4xx, never 500.
"""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup
from conftest import PASSWORD, ask, ask_and_get_code, csrf_token
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Question
from portal.services.accounts.signin import LOGIN_FAILED_MESSAGE
from portal.services.board.questions import NOT_FOUND_MESSAGE
from portal.views.errors import CSRF_MESSAGE

TITLE = "解放路路灯不亮何时修"
BODY = "解放路中段的路灯已经连续一周晚上不亮，行人很不安全，请尽快维修。"
CONTACT = "电话 0571-8888 6666"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
SERVER_ERROR = "服务器错误"


# ---- helpers --------------------------------------------------------------------------------------------


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def text_of(element) -> str:
    return " ".join(element.get_text(" ").split()) if element is not None else ""


def summary(response) -> str:
    """The text of the error box at the top of the page."""
    return text_of(page(response).find(class_="error-summary"))


def main_text(response) -> str:
    """Everything a person reads in the page body (typed values live in attributes, so they are not in it)."""
    return text_of(page(response).find("main"))


def field_error(soup: BeautifulSoup, name: str) -> str:
    """The message shown next to the field `name`; asserts it sits in the same field block as the control."""
    error = soup.find(id=f"{name}-error")
    assert error is not None, f"no error message next to field {name!r}"
    assert "field-error" in error.get("class", [])
    block = error.find_parent(class_="field")
    assert block is not None and block.find(attrs={"name": name}) is not None, f"{name}-error is not by its field"
    return text_of(error)


def input_value(soup: BeautifulSoup, name: str, scope=None) -> str:
    element = (scope or soup).find(attrs={"name": name})
    assert element is not None, f"no field {name!r} in the page"
    if element.name == "textarea":
        return element.get_text().strip("\r\n")
    return element.get("value", "")


def question_count(app) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(Question.id))) or 0)


def question_by_number(app, number: str) -> Question:
    with app.app_context():
        question = db.session.scalar(select(Question).where(Question.number == number))
        assert question is not None
        db.session.expunge(question)
        return question


def assert_chinese_page(response) -> None:
    body = response.get_data(as_text=True)
    assert CHINESE.search(main_text(response)), body[:1000]
    assert "Traceback" not in body
    assert SERVER_ERROR not in body


def publish_question(app, client, auth, staff) -> tuple[str, str]:
    """Ask, route to 交通, reply and publish as the office, sign out; returns the number and tracking code."""
    number, code = ask_and_get_code(client)
    qid = question_by_number(app, number).id
    assert auth.login("office").status_code == 303
    token = csrf_token(client, f"/staff/questions/{qid}")
    routed = client.post(
        f"/staff/questions/{qid}/route", data={"csrf_token": token, "department": str(staff.roads)}
    )
    assert routed.status_code == 303, routed.get_data(as_text=True)[:2000]
    replied = client.post(
        f"/staff/questions/{qid}/reply",
        data={"csrf_token": token, "body": "网友您好：解放路路灯已于今日修复，感谢您的反映。", "publish": "保存并发布"},
    )
    assert replied.status_code == 303, replied.get_data(as_text=True)[:2000]
    assert question_by_number(app, number).status == "published"
    assert auth.logout().status_code == 303
    return number, code


def track(client, number: str, code: str):
    token = csrf_token(client, "/track")
    return client.post("/track", data={"csrf_token": token, "number": number, "code": code})


def rate(client, number: str, rating: str, comment: str = ""):
    token = csrf_token(client, "/track")
    return client.post("/track/rate", data={"csrf_token": token, "number": number, "rating": rating, "comment": comment})


# ---- /ask -----------------------------------------------------------------------------------------------

ASK_CASES = [
    ("title-empty", {"title": ""}, "title", "请填写标题"),
    ("title-4-chars", {"title": "路灯不亮"}, "title", "标题应为 5-50 个字"),
    ("title-51-chars", {"title": "路" * 51}, "title", "标题应为 5-50 个字"),
    ("body-9-chars", {"body": "路灯坏了请尽快维修"}, "body", "留言内容应为 10-2000 个字"),
    ("body-2001-chars", {"body": "灯" * 2001}, "body", "留言内容应为 10-2000 个字"),
    ("category-missing", {"category": ""}, "category", "请选择留言类别"),
    ("category-other", {"category": "other"}, "category", "请选择留言类别"),
    ("department-abc", {"department": "abc"}, "department", "所选部门不存在"),
    ("department-99999", {"department": "99999"}, "department", "所选部门不存在"),
    # str.isdigit() is true for "²", but int("²") fails; a number past 64 bits does not fit the database.
    ("department-superscript-two", {"department": "²"}, "department", "所选部门不存在"),
    ("department-30-digits", {"department": "9" * 30}, "department", "所选部门不存在"),
    ("contact-101-chars", {"contact": "8" * 101}, "contact", "联系方式不超过 100 个字"),
]


@pytest.mark.parametrize(
    ("overrides", "field", "message"), [c[1:] for c in ASK_CASES], ids=[c[0] for c in ASK_CASES]
)
def test_ask_refuses_bad_field_with_message_by_it_and_keeps_input(app, client, staff, overrides, field, message):
    typed = {"title": TITLE, "body": BODY, "category": "求助", "department": "", "contact": CONTACT, **overrides}
    response = ask(client, **typed)
    assert response.status_code == 400, f"expected 400, got {response.status_code}"
    soup = page(response)
    assert message in field_error(soup, field)
    for name in ("title", "body", "contact"):
        if typed[name]:
            assert input_value(soup, name) == typed[name], f"{name} was not kept"
    if field != "category":
        assert soup.find("select", attrs={"name": "category"}).find("option", selected=True)["value"] == "求助"
    assert question_count(app) == 0


def test_ask_honeypot_filled_is_refused_and_keeps_input(app, client, staff):
    response = ask(client, title=TITLE, body=BODY, contact=CONTACT, homepage="http://spam.example")
    assert response.status_code == 400
    assert "提交未通过校验" in summary(response)
    soup = page(response)
    assert input_value(soup, "title") == TITLE
    assert input_value(soup, "body") == BODY
    assert input_value(soup, "contact") == CONTACT
    assert question_count(app) == 0


def test_ask_strips_nul_bytes(app, client, staff):
    number, _code = ask_and_get_code(
        client, title="解放路\x00路灯不亮何时修", body="解放路中段的路灯\x00已经连续一周晚上不亮，请尽快维修。"
    )
    question = question_by_number(app, number)
    assert question.title == "解放路路灯不亮何时修"
    assert question.body == "解放路中段的路灯已经连续一周晚上不亮，请尽快维修。"


def test_ask_script_is_stored_and_shown_escaped(app, client, auth, staff):
    attack = "<script>alert(1)</script>"
    number, _code = ask_and_get_code(client, title=f"{attack}路灯不亮", body=f"{attack} 解放路路灯不亮，请尽快维修。")
    question = question_by_number(app, number)
    assert attack in question.body  # stored as typed: escaping is the page's job

    assert auth.login("office").status_code == 303
    response = client.get(f"/staff/questions/{question.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    soup = page(response)
    assert not soup.find_all("script")
    assert attack in text_of(soup.find(class_="q-body"))
    assert attack in text_of(soup.find("h1"))


# ---- CSRF -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "not-a-real-token"], ids=["missing", "forged"])
def test_ask_without_valid_csrf_token_keeps_input(app, client, staff, token):
    client.get("/ask")
    data = {"title": TITLE, "body": BODY, "category": "求助", "department": "", "contact": CONTACT}
    if token:
        data["csrf_token"] = token
    response = client.post("/ask", data=data)
    assert response.status_code == 400
    assert CSRF_MESSAGE in summary(response)
    soup = page(response)
    assert input_value(soup, "title") == TITLE
    assert input_value(soup, "body") == BODY
    assert input_value(soup, "contact") == CONTACT
    assert question_count(app) == 0
    # The page carries a fresh token: sending it again works.
    fresh = soup.find("input", attrs={"name": "csrf_token"})["value"]
    again = client.post("/ask", data={**data, "csrf_token": fresh})
    assert again.status_code == 303
    assert question_count(app) == 1


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/track", {"number": "2026010100001", "code": "ABCD-EFGH-JKLM"}),
        ("/login", {"username": "office", "password": PASSWORD}),
        ("/track/rate", {"number": "2026010100001", "rating": "satisfied"}),
    ],
)
def test_public_post_without_csrf_token_is_400(client, staff, url, data):
    client.get(url if url != "/track/rate" else "/track")
    response = client.post(url, data=data)
    assert response.status_code == 400
    assert CSRF_MESSAGE in main_text(response)
    if url == "/login":
        assert client.get("/staff/").status_code == 302  # not signed in


def test_logout_without_csrf_token_is_400_and_keeps_session(client, auth, staff):
    assert auth.login("office").status_code == 303
    response = client.post("/logout", data={})
    assert response.status_code == 400
    assert CSRF_MESSAGE in main_text(response)
    assert client.get("/staff/").status_code == 200


def test_staff_posts_without_csrf_token_are_400(app, client, auth, staff):
    number, _code = ask_and_get_code(client)
    qid = question_by_number(app, number).id
    assert auth.login("office").status_code == 303
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("staff.") and "POST" in r.methods]
    assert rules
    data = {"department": str(staff.roads), "reason": "spam", "body": "网友您好：已经修复，感谢反映。", "publish": "1"}
    for rule in rules:
        url = re.sub(r"<int:\w+>", str(qid), rule.rule)  # every integer argument (question, incident, memo …)
        response = client.post(url, data=data)
        assert response.status_code == 400, f"POST {url} without token -> {response.status_code}"
        assert CSRF_MESSAGE in main_text(response)
    question = question_by_number(app, number)
    assert (question.status, question.department_id) == ("received", None)


# ---- malformed bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("/ask", "title=%FF%FE%E8%B7%AF%E7%81%AF%E4%B8%8D%E4%BA%AE%E4%BA%86&body=%FF%FE" + "%E7%81%AF" * 12
         + "&category=%E6%B1%82%E5%8A%A9&department=%FF&contact=%FE"),
        ("/track", "number=%FF%FE&code=%FF%FE"),
        ("/login", "username=%FF%FE&password=%FF%FE"),
    ],
)
def test_invalid_utf8_in_form_is_not_a_server_error(client, staff, url, fields):
    token = csrf_token(client, url)
    raw = f"csrf_token={token}&{fields}".encode("ascii")
    response = client.post(url, data=raw, content_type="application/x-www-form-urlencoded")
    assert response.status_code < 500, response.get_data(as_text=True)[:1000]
    if response.status_code != 303:
        assert_chinese_page(response)


def test_form_with_1500_fields_is_refused_with_413(client, staff):
    token = csrf_token(client, "/ask")
    fields = {"csrf_token": token, "title": TITLE, "body": BODY, "category": "求助"}
    fields.update({f"extra{i}": "x" for i in range(1500)})
    response = client.post("/ask", data=fields)
    assert response.status_code == 413
    assert_chinese_page(response)


def test_body_over_max_content_length_is_413_with_chinese_page(app, client, staff):
    token = csrf_token(client, "/ask")
    limit = app.config["MAX_CONTENT_LENGTH"]
    raw = f"csrf_token={token}&title=abcdef&category=x&body=".encode() + b"x" * (limit + 1)
    response = client.post("/ask", data=raw, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert "内容过大" in text_of(page(response).find("h1"))
    assert "超过了大小限制" in main_text(response)


# ---- /track ---------------------------------------------------------------------------------------------

WRONG_CODE = "ABCD-EFGH-JKLM"
UNKNOWN_NUMBER = "2099010199999"


def test_wrong_code_gets_the_same_answer_as_unknown_number(client, staff):
    number, _code = ask_and_get_code(client)
    wrong_code = track(client, number, WRONG_CODE)
    unknown = track(client, UNKNOWN_NUMBER, WRONG_CODE)
    assert wrong_code.status_code == unknown.status_code == 404
    assert summary(wrong_code) == summary(unknown) == NOT_FOUND_MESSAGE
    assert main_text(wrong_code) == main_text(unknown)
    assert "解放路" not in wrong_code.get_data(as_text=True)


@pytest.mark.parametrize("case", ["right-code", "wrong-code", "unknown-number"])
def test_track_never_echoes_the_code(client, staff, case):
    number, code = ask_and_get_code(client)
    typed_number, typed_code = {
        "right-code": (number, code),
        "wrong-code": (number, WRONG_CODE),
        "unknown-number": (UNKNOWN_NUMBER, code),
    }[case]
    response = track(client, typed_number, typed_code)
    assert response.status_code == (200 if case == "right-code" else 404)
    html = response.get_data(as_text=True)
    assert typed_code not in html
    assert typed_code.replace("-", "") not in html
    assert input_value(page(response), "code") == ""


@pytest.mark.parametrize(
    "number",
    ["abc", "1" * 25, "²³", "-1", "１２３", "2026' OR 1=1 --"],
    ids=["letters", "25-digits", "superscripts", "negative", "fullwidth-digits", "sql-quote"],
)
def test_malformed_tracking_number_is_refused_not_500(client, staff, number):
    ask_and_get_code(client)
    response = track(client, number, WRONG_CODE)
    assert response.status_code in (400, 404), response.status_code
    if response.status_code == 404:
        assert summary(response) == NOT_FOUND_MESSAGE
    else:
        assert CHINESE.search(field_error(page(response), "number"))


# ---- /track/rate ----------------------------------------------------------------------------------------


def test_rating_before_tracking_in_this_browser_is_403(app, client, auth, staff):
    number, _code = publish_question(app, client, auth, staff)
    response = rate(client, number, "satisfied")
    assert response.status_code == 403
    assert "请先用留言编号和查询码查询" in summary(response)
    assert question_by_number(app, number).rating is None


@pytest.mark.parametrize(
    ("rating", "comment", "field", "message"),
    [
        ("excellent", "路灯修好了，谢谢", "rating", "请选择满意、基本满意或不满意"),
        ("", "路灯修好了，谢谢", "rating", "请选择满意、基本满意或不满意"),
        ("satisfied", "好" * 501, "comment", "评价意见不超过 500 个字"),
    ],
    ids=["unknown-rating", "no-rating", "comment-501-chars"],
)
def test_invalid_rating_is_400_with_message_and_comment_kept(app, client, auth, staff, rating, comment, field, message):
    number, code = publish_question(app, client, auth, staff)
    assert track(client, number, code).status_code == 200
    response = rate(client, number, rating, comment)
    assert response.status_code == 400
    soup = page(response)
    rate_form = soup.find("form", action="/track/rate")
    assert rate_form is not None, "the rating form is gone: the citizen cannot correct the input"
    if field == "rating":
        error = rate_form.find("fieldset").find(class_="field-error")
        assert error is not None and message in text_of(error)
    else:
        assert message in field_error(soup, field)
    assert input_value(soup, "comment", scope=rate_form) == comment
    assert question_by_number(app, number).rating is None


def test_rating_twice_is_refused(app, client, auth, staff):
    number, code = publish_question(app, client, auth, staff)
    assert track(client, number, code).status_code == 200
    first = rate(client, number, "satisfied", "修得很快")
    assert first.status_code == 200
    assert "您的评价" in main_text(first)
    second = rate(client, number, "unsatisfied", "改主意了")
    assert 400 <= second.status_code < 500
    assert "已评价过" in summary(second)
    question = question_by_number(app, number)
    assert (question.rating, question.rating_comment) == ("satisfied", "修得很快")


# ---- /login ---------------------------------------------------------------------------------------------


def login(client, username: str, password: str):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def test_unknown_username_and_wrong_password_look_the_same(client, staff):
    unknown = login(client, "nobody-here", "wrong-password-123")
    wrong = login(client, "office", "wrong-password-123")
    assert unknown.status_code == wrong.status_code == 401
    assert summary(unknown) == summary(wrong) == LOGIN_FAILED_MESSAGE
    assert main_text(unknown) == main_text(wrong)
    assert input_value(page(wrong), "password") == ""  # the password is never sent back


def test_lockout_refuses_right_password_with_the_same_message(app, client, staff):
    failures = int(app.config["LOGIN_MAX_FAILURES"])
    for _ in range(failures):
        response = login(client, "office", "wrong-password-123")
        assert response.status_code == 401
        assert summary(response) == LOGIN_FAILED_MESSAGE
    locked = login(client, "office", PASSWORD)
    assert locked.status_code == 401
    assert summary(locked) == LOGIN_FAILED_MESSAGE
    assert client.get("/staff/").status_code == 302  # not signed in
    unknown = login(client, "nobody-here", PASSWORD)
    assert unknown.status_code == locked.status_code
    assert main_text(unknown) == main_text(locked)
    # Another account is not affected.
    assert login(client, "responder", PASSWORD).status_code == 303


# ---- /questions and /pages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("month=2026-13", "月份格式"),
        ("month=abc", "月份格式"),
        ("month=%FF%FE", "月份格式"),
        ("category=x", "类别应为"),
        ("department=nope", "没有这个部门"),
        ("page=0", "页码应为正整数"),
        ("page=abc", "页码应为正整数"),
        ("page=-1", "页码应为正整数"),
        ("page=%C2%B2", "页码应为正整数"),  # "²": isdigit() is true, int() fails
    ],
    ids=["month-13", "month-abc", "month-bad-utf8", "category-x", "department-nope", "page-0", "page-abc", "page-minus-1",
         "page-superscript-two"],
)
def test_board_refuses_bad_filters_with_chinese_message(client, staff, query, message):
    response = client.get(f"/questions?{query}")
    assert response.status_code == 400, response.status_code
    assert message in summary(response)


@pytest.mark.parametrize("month", ["0001-01", "9999-12"])
def test_board_month_at_the_calendar_edges_is_not_a_server_error(client, staff, month):
    response = client.get(f"/questions?month={month}")
    assert response.status_code in (200, 400), response.status_code
    assert_chinese_page(response)


@pytest.mark.parametrize("number", ["abc", "999999", "1" * 25, "%C2%B2"])
def test_unknown_question_page_is_404(client, staff, number):
    response = client.get(f"/questions/{number}")
    assert response.status_code == 404
    assert "页面不存在" in main_text(response)


def test_unpublished_question_page_is_404(client, staff):
    number, _code = ask_and_get_code(client)
    assert client.get(f"/questions/{number}").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/pages/../../etc/passwd",
        "/pages/..%2F..%2Fetc%2Fpasswd",
        "/pages/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/pages/..",
        "/pages/about.md",
        "/pages/about%00",
        "/pages/ABOUT",
    ],
)
def test_page_slug_tricks_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.get_data(as_text=True)


# ---- staff forms ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("department", "message"),
    [("", "请选择部门"), ("abc", "请选择要转交的部门"), ("99999", "请选择要转交的部门"),
     ("²", "请选择要转交的部门"), ("9" * 30, "请选择要转交的部门")],
    ids=["empty", "abc", "99999", "superscript-two", "30-digits"],
)
def test_route_form_refuses_bad_department(app, client, auth, staff, department, message):
    number, _code = ask_and_get_code(client)
    qid = question_by_number(app, number).id
    assert auth.login("office").status_code == 303
    token = csrf_token(client, f"/staff/questions/{qid}")
    response = client.post(
        f"/staff/questions/{qid}/route", data={"csrf_token": token, "department": department, "note": "请尽快办理"}
    )
    assert response.status_code == 400, response.status_code
    soup = page(response)
    assert message in field_error(soup, "department")
    route_form = soup.find("form", action=f"/staff/questions/{qid}/route")
    assert input_value(soup, "note", scope=route_form) == "请尽快办理"
    assert question_by_number(app, number).status == "received"


@pytest.mark.parametrize(
    ("body", "message"), [("", "请填写答复内容"), ("已修复。", "答复内容应为 10-20000 个字")], ids=["empty", "too-short"]
)
def test_reply_form_refuses_bad_body_and_keeps_it(app, client, auth, staff, body, message):
    number, _code = ask_and_get_code(client)
    qid = question_by_number(app, number).id
    assert auth.login("office").status_code == 303
    token = csrf_token(client, f"/staff/questions/{qid}")
    response = client.post(f"/staff/questions/{qid}/reply", data={"csrf_token": token, "body": body, "save": "1"})
    assert response.status_code == 400
    soup = page(response)
    assert message in field_error(soup, "body")
    reply_form = soup.find("form", action=f"/staff/questions/{qid}/reply")
    assert input_value(soup, "body", scope=reply_form) == body
    assert question_by_number(app, number).status == "received"


def test_audit_page_number_that_is_not_ascii_is_not_a_server_error(client, auth, staff):
    assert auth.login("admin").status_code == 303
    response = client.get("/staff/audit?page=%C2%B2")
    assert response.status_code in (200, 400), response.status_code
    assert_chinese_page(response)


@pytest.mark.parametrize("url", ["/questions", "/search", "/", "/questions/2026010100001", "/track", "/stats"])
def test_very_long_query_strings_are_not_server_errors(client, url):
    long_value = "长" * 20000 + "'; DROP TABLE question; --"
    response = client.get(url, query_string={"q": long_value, "category": long_value, "month": long_value,
                                             "page": "9" * 500, "department": long_value})
    assert response.status_code < 500
    assert long_value not in response.get_data(as_text=True)  # never echoed whole
