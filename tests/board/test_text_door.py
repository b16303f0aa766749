"""Text at the door (issue 21, items 1-3): forbidden code points, invisible text and full-width codes, on the
public forms, the staff forms, the import and every XML, XLSX and iCalendar writer."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import feedparser
import icalendar
import pyotp
import pytest
from bulletin_helpers import latest_update, open_incident, post_update, spokesperson
from conftest import PASSWORD, TOTP_SECRET, AuthActions, ask, ask_and_get_code, csrf_token
from desk_helpers import bj, make_question
from openpyxl import load_workbook
from sqlalchemy import func, select
from test_bad_input import field_error, page, publish_question, question_by_number, summary, track
from test_ics import announce

from portal.extensions import db
from portal.models import Conference, Question, Update
from portal.services.board.importer import import_lines
from portal.services.clock import rule_from_config

FULL_WIDTH = str.maketrans({**{chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}, " ": "\u3000"})


def full_width(value: str) -> str:
    """What a Chinese input method in full-width mode types for `value`."""
    return value.translate(FULL_WIDTH)


def count_questions(app) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(Question.id))) or 0)


# ---- 1. forbidden code points ---------------------------------------------------------------------------


def test_a_title_with_uffff_is_stored_without_it(app, client, staff):
    number, _code = ask_and_get_code(client, title="解放路路灯\uffff不亮何时修", body="路灯\ufdd0已经一周不亮了\x0b请尽快维修。")
    stored = question_by_number(app, number)
    assert stored.title == "解放路路灯不亮何时修"
    assert stored.body == "路灯已经一周不亮了请尽快维修。"


def test_rows_stored_before_the_door_do_not_break_the_answers_feed_or_the_ledger(app, client, auth, staff):
    """The field report: a published title with U+FFFF made /feeds/answers.atom and /staff/ledger.xlsx answer 500."""
    make_question(app, 1, bj(2026, 11, 2, 9), staff.roads, replied=bj(2026, 11, 2, 11), title="路灯\uffff不亮")
    feed = client.get("/feeds/answers.atom")
    assert feed.status_code == 200
    parsed = feedparser.parse(feed.get_data())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert [e.title for e in parsed.entries] == ["路灯不亮"]
    auth.login("office")
    ledger = client.get("/staff/ledger.xlsx")
    assert ledger.status_code == 200
    assert load_workbook(io.BytesIO(ledger.get_data())).active["B2"].value == "路灯不亮"
    assert client.get("/staff/ledger.csv").status_code == 200


def test_old_bulletin_and_conference_texts_with_control_characters_keep_rss_and_ics_valid(app, staff):
    """Our own input of the kind: a vertical tab and U+FFFE in a bulletin title and a conference, stored raw."""
    client = spokesperson(app)
    incident = open_incident(app, client)
    post_update(app, client, incident.id, "道路已经恢复通行。", title="第一次通报")
    announce(app, client)
    with app.app_context():
        db.session.get(Update, latest_update(app).id).title = "第一次\x0b通报\ufffe"
        conference = db.session.scalar(select(Conference))
        conference.title = "供暖\x01发布会\ufffe"
        conference.place = "政务中心\x1f三楼"
        db.session.commit()
    rss = app.test_client().get("/feeds/bulletins.rss")
    assert rss.status_code == 200
    parsed = feedparser.parse(rss.get_data())
    assert not parsed.bozo and parsed.entries[0].title.endswith("第一次通报")
    ics = app.test_client().get("/press/conferences.ics")
    assert ics.status_code == 200
    event = next(c for c in icalendar.Calendar.from_ical(ics.get_data()).walk("VEVENT"))
    assert str(event["SUMMARY"]) == "供暖发布会" and str(event["LOCATION"]) == "政务中心三楼"


def jsonl(**fields) -> bytes:
    row = {"title": "解放路路灯不亮", "body": "路灯已经一周不亮了，请尽快维修。", "asked_at": "2026-11-02T09:00:00",
           "category": "求助", **fields}
    return json.dumps(row, ensure_ascii=False).encode() + b"\n"


def test_an_import_with_a_bad_line_reports_it_and_imports_the_others(app, runner, tmp_path, staff):
    """A line that is not UTF-8 (a GBK export pasted in) is reported by number; the rest are imported."""
    gbk = '{"title": "路灯不亮", "body": "路灯已经一周不亮了", "asked_at": "2026-11-02T09:00:00", "external_id": "x"}\n'
    path = tmp_path / "questions.jsonl"
    path.write_bytes(jsonl(external_id="a-1") + gbk.encode("gbk") + jsonl(external_id="a-3", title="路灯\uffff坏了"))
    result = runner.invoke(args=["import-questions", str(path)])
    assert result.exit_code == 0, result.output
    assert "导入 2 条" in result.output and "无效 1 条" in result.output
    assert "第 2 行：不是有效的 UTF-8" in result.output
    with app.app_context():
        titles = sorted(db.session.scalars(select(Question.title)))
    assert titles == ["解放路路灯不亮", "路灯坏了"]


def test_an_import_cleans_lone_surrogates_and_nul_and_refuses_invisible_titles(app, staff):
    """Our own input of the kind: JSON escapes for a lone surrogate and NUL, and a title of zero-width spaces."""
    lines = [
        b'{"title": "\\u8def\\u706f\\ud800\\u574f\\u4e86", "body": "\\u0000\\u8def\\u706f\\u4e0d\\u4eae",'
        b' "asked_at": "2026-11-02T09:00:00", "external_id": "b-\\u00001"}\n',
        jsonl(external_id="b-2", title="\u200b" * 6),
        jsonl(external_id="b-3"),
    ]
    with app.app_context():
        result = import_lines(db.session, lines, rule_from_config(app.config))
        rows = list(db.session.execute(select(Question.external_id, Question.title, Question.body)
                                       .order_by(Question.external_id)))
    assert result.imported == 2 and [n for n, _ in result.invalid] == [2]
    assert "不可见" in result.invalid[0][1]
    assert [tuple(r) for r in rows] == [("b-1", "路灯坏了", "路灯不亮"), ("b-3", "解放路路灯不亮", "路灯已经一周不亮了，请尽快维修。")]


# ---- 2. invisible text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "body", "title_error", "body_error"),
    [
        # The field report: a title of six U+200B and a body of twelve was accepted.
        ("\u200b" * 6, "\u200b" * 12, "请填写标题", "请填写留言内容"),
        # Our own input of the kind: four visible characters padded with a Hangul filler, a BOM, a word joiner.
        ("路灯\u3164不亮\ufeff\u2060", "路灯坏了" + "\u200b" * 6, "标题应为 5-50 个字", "留言内容应为 10-2000 个字"),
    ],
    ids=["zero-width-only", "padded-below-minimum"],
)
def test_invisible_characters_are_not_content(app, client, staff, title, body, title_error, body_error):
    response = ask(client, title=title, body=body)
    assert response.status_code == 400
    soup = page(response)
    assert title_error in field_error(soup, "title")
    assert body_error in field_error(soup, "body")
    assert count_questions(app) == 0


def test_hidden_characters_cannot_pad_a_text_past_its_maximum_either(app, client, staff):
    response = ask(client, title="路" * 48 + "\u200b" * 5)
    assert response.status_code == 400
    assert "含有不可见的字符" in field_error(page(response), "title")
    assert count_questions(app) == 0


@pytest.mark.parametrize("filler", ["\u200b" * 12, "\u3000\u3164\u2800\u200d" * 3])
def test_staff_forms_count_visible_characters_too(app, client, auth, staff, filler):
    """A memo, a reply and an internal note of invisible characters only are refused on the staff side."""
    qid = make_question(app, 1, bj(2026, 11, 2, 9), staff.roads)
    auth.login("office")
    token = csrf_token(client, f"/staff/questions/{qid}")
    reply = client.post(f"/staff/questions/{qid}/reply", data={"csrf_token": token, "body": filler, "save": "1"})
    assert reply.status_code == 400 and "答复内容" in reply.get_data(as_text=True)
    note = client.post(f"/staff/questions/{qid}/note", data={"csrf_token": token, "body": filler})
    assert note.status_code == 400 and "请填写备注" in note.get_data(as_text=True)
    with app.app_context():
        question = db.session.get(Question, qid)
        assert question.reply is None and question.status == "routed"


# ---- 3. full-width codes and numbers --------------------------------------------------------------------


def test_track_finds_a_question_typed_full_width(app, client, staff):
    """The field report: number and tracking code typed by a Chinese input method got 未找到."""
    number, code = ask_and_get_code(client)
    response = track(client, full_width(number), full_width(code))
    assert response.status_code == 200, summary(response)
    assert "解放路路灯不亮何时修" in response.get_data(as_text=True)


def test_rating_after_tracking_full_width(app, client, auth, staff):
    number, code = publish_question(app, client, auth, staff)
    assert track(client, full_width(number), full_width(code.lower())).status_code == 200
    token = csrf_token(client, "/track")
    rated = client.post("/track/rate", data={"csrf_token": token, "number": full_width(number), "rating": "satisfied"})
    assert rated.status_code == 200
    assert question_by_number(app, number).rating == "satisfied"


def test_merge_and_desk_search_take_a_full_width_number(app, client, auth, staff):
    """Our own input of the kind: the office types an earlier answer's number full-width to merge a duplicate."""
    make_question(app, 1, bj(2026, 11, 2, 9), staff.roads, replied=bj(2026, 11, 2, 11), title="解放路路灯不亮")
    later = make_question(app, 2, bj(2026, 11, 3, 9), staff.roads, title="解放路路灯还是不亮")
    auth.login("office")
    found = client.get("/staff/desk?q=" + full_width("2026110300002")).get_data(as_text=True)
    assert "解放路路灯还是不亮" in found
    token = csrf_token(client, f"/staff/questions/{later}")
    merged = client.post(f"/staff/questions/{later}/merge",
                         data={"csrf_token": token, "original": full_width("20261102 00001")})
    assert merged.status_code == 303, merged.get_data(as_text=True)[:2000]
    with app.app_context():
        assert db.session.get(Question, later).duplicate_of_id is not None


def test_a_totp_code_typed_full_width_signs_in(app, client, staff):
    client = app.test_client()
    token = csrf_token(client, "/login")
    first = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert first.headers["Location"].endswith("/login/totp")
    token = csrf_token(client, "/login/totp")
    code = full_width(pyotp.TOTP(TOTP_SECRET).now())
    response = client.post("/login/totp", data={"code": code, "csrf_token": token})
    assert response.status_code == 303 and not response.headers["Location"].endswith("/login/totp")
    assert client.get("/staff/users").status_code == 200


def test_a_press_time_typed_full_width_is_understood(app, staff):
    from datetime import datetime

    from portal.timeutil import BEIJING, to_beijing, utcnow

    client = spokesperson(app)
    incident = open_incident(app, client)
    when = to_beijing(utcnow() + timedelta(days=1)).replace(second=0, microsecond=0)
    typed = full_width(f"{when:%Y-%m-%d %H:%M}")
    post_update(app, client, incident.id, "明天上午召开新闻发布会。", kind="press", press_at=typed, press_place="县政府")
    stored = latest_update(app).press_at
    assert to_beijing(stored) == datetime(when.year, when.month, when.day, when.hour, when.minute, tzinfo=BEIJING)


def test_signing_in_with_a_full_width_username(app, staff):
    client = app.test_client()
    assert AuthActions(client).login(full_width("office")).status_code == 303
