"""Staff text is never lost: a reply posted after the session ended, or without a valid CSRF token, comes back in the
page to copy, as text only (nothing is saved, nothing is submitted from it)."""

from __future__ import annotations

from bs4 import BeautifulSoup
from bulletin_helpers import open_incident, spokesperson
from conftest import AuthActions, ask_and_get_code, csrf_token
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Question, Reply, Update
from portal.views.errors import CSRF_MESSAGE, SESSION_ENDED_MESSAGE

LONG_REPLY = ("网友您好：\n\n您反映的解放路中段路灯不亮问题，经我局核实，系线路老化所致。"
              + "我局已安排维修班组逐段排查更换线缆，预计本周五前全部恢复照明。" * 30
              + "\n\n感谢您对我们工作的关注和支持。")


def _kept(response) -> dict[str, str]:
    """The boxes of the refusal page: label -> the text shown in it."""
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    out = {}
    for box in soup.select(".kept-text"):
        label = soup.find("label", attrs={"for": box["id"]}).get_text(strip=True)
        # Browsers drop one newline right after <textarea> (the page puts one there so the text's own first newline
        # survives); html.parser keeps it.
        out[label] = box.get_text().removeprefix("\n") if box.name == "textarea" else box["value"]
        assert box.has_attr("readonly")
    return out


def _question(app) -> tuple[int, str]:
    number, _code = ask_and_get_code(app.test_client())
    with app.app_context():
        return db.session.scalar(select(Question.id).where(Question.number == number)), number


def _replies(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Reply.id)))


def test_reply_after_the_session_ended_comes_back_to_copy(app, staff):
    qid, _number = _question(app)
    office = app.test_client()
    AuthActions(office).login("office")
    page = f"/staff/questions/{qid}"
    token = csrf_token(office, page)
    # Meanwhile the same account signs out elsewhere: every session of it ends (the session token rotates).
    other = app.test_client()
    AuthActions(other).login("office")
    AuthActions(other).logout()
    response = office.post(f"{page}/reply", data={"body": LONG_REPLY, "csrf_token": token},
                           headers={"Referer": f"http://localhost{page}"})
    assert response.status_code == 401
    text = response.get_data(as_text=True)
    assert SESSION_ENDED_MESSAGE in text
    assert _kept(response) == {"正文": LONG_REPLY}
    soup = BeautifulSoup(text, "html.parser")
    login = soup.find("a", string="重新登录")["href"]
    assert login.startswith("/login") and "next=" in login and str(qid) in login
    assert _replies(app) == 0


def test_reply_without_a_valid_token_comes_back_to_copy(app, staff):
    qid, _number = _question(app)
    office = app.test_client()
    AuthActions(office).login("office")
    page = f"/staff/questions/{qid}"
    office.get(page)
    for token in (None, "expired-or-forged"):
        data = {"body": LONG_REPLY, "publish": "保存并发布"} | ({"csrf_token": token} if token else {})
        response = office.post(f"{page}/reply", data=data, headers={"Referer": f"http://localhost{page}"})
        assert response.status_code == 400
        assert CSRF_MESSAGE in response.get_data(as_text=True)
        assert _kept(response)["正文"] == LONG_REPLY
        back = BeautifulSoup(response.get_data(as_text=True), "html.parser").find("a", string="回到原页面")
        assert back["href"] == page
    assert _replies(app) == 0


def test_cookie_gone_entirely_still_gives_the_text_back(app, staff):
    qid, _number = _question(app)
    browser = app.test_client()  # the session cookie expired: the browser sends none
    response = browser.post(f"/staff/questions/{qid}/reply", data={"body": LONG_REPLY, "csrf_token": "old"})
    assert response.status_code == 400 and _kept(response) == {"正文": LONG_REPLY}
    assert "重新登录" in response.get_data(as_text=True)


def test_hostile_or_odd_text_comes_back_as_text_only(app, staff):
    qid, _number = _question(app)
    office = app.test_client()
    AuthActions(office).login("office")
    office.get(f"/staff/questions/{qid}")
    odd = "\n开头有空行</textarea><script>alert(1)</script><img src=x onerror=alert(2)>\n\n结尾"
    response = office.post(f"/staff/questions/{qid}/reply", data={"body": odd},
                           headers={"Referer": "https://elsewhere.example/page"})
    assert response.status_code == 400
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert _kept(response) == {"正文": odd}
    assert not soup.find("script", string=lambda s: s and "alert" in s) and not soup.find("img", src="x")
    # Nothing there would send it again, and a foreign Referer is not linked.
    assert not soup.select("main form textarea, main form input.kept-text")
    assert not soup.find("a", href="https://elsewhere.example/page")


def test_bulletin_update_after_the_session_ended_comes_back(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    page = f"/staff/bulletins/{incident.id}"
    token = csrf_token(client, page)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/staff/")})  # e.g. signed out in another tab
    body = "第二次通报：截至 18 时，已转移群众 1260 人，" * 20
    response = client.post(f"{page}/updates", data={
        "kind": "update", "title": "第二次通报", "body": body, "when": "now", "csrf_token": token, "submit": "发布",
    }, headers={"Referer": f"http://localhost{page}"})
    assert response.status_code in (400, 401)
    assert _kept(response) == {"标题": "第二次通报", "正文": body}
    with app.app_context():
        assert db.session.scalar(select(func.count(Update.id))) == 0


def test_a_public_form_keeps_its_text_too(app, staff):
    number, _code = ask_and_get_code(app.test_client())
    citizen = app.test_client()
    response = citizen.post("/subscribe", data={"email": "reader@example.cn", "incident": ""})
    assert response.status_code == 400 and _kept(response) == {"电子邮箱": "reader@example.cn"}


def test_a_post_with_nothing_typed_still_goes_to_the_login_page(app, staff):
    qid, _number = _question(app)
    client = app.test_client()
    token = csrf_token(client, "/ask")
    response = client.post(f"/staff/questions/{qid}/publish", data={"csrf_token": token})
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
