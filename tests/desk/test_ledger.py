"""The ledger: filters, CSV and XLSX exports read back, the row cap, and bad filters."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from desk_helpers import bj, make_question
from openpyxl import load_workbook

from portal.services.desk.ledger import HEADERS


@pytest.fixture
def ledger_data(app, staff):
    make_question(app, 1, bj(2026, 11, 2, 9), staff.roads, replied=bj(2026, 11, 2, 11), due=bj(2026, 11, 2, 18),
                  rating="satisfied", title="解放路路灯不亮")
    make_question(app, 2, bj(2026, 11, 3, 17), staff.schools, due=bj(2026, 11, 4, 12), category="投诉",
                  title="学校门口交通拥堵")
    make_question(app, 3, bj(2026, 10, 3, 9), staff.roads, replied=bj(2026, 10, 9, 9), due=bj(2026, 10, 8, 12),
                  title="十月的留言")
    return staff


EXPECTED_FIRST = ["2026110200001", "解放路路灯不亮", "咨询", "测试县交通运输局", "", "已答复", "2026-11-02 09:00",
                  "2026-11-02 09:00", "2026-11-02 11:00", "2026-11-02 11:00", "2026-11-02 18:00", "是", "2.0", "满意",
                  "", "", "本站留言", "本站留言板"]


def _csv_rows(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_export_reads_back(client, auth, ledger_data):
    auth.login("office")
    response = client.get("/staff/ledger.csv?since=2026-11-01&until=2026-11-30")
    assert response.status_code == 200 and response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _csv_rows(response)
    assert rows[0] == list(HEADERS)
    assert rows[1] == EXPECTED_FIRST
    assert [r[1] for r in rows[1:]] == ["解放路路灯不亮", "学校门口交通拥堵"]
    assert rows[2][5] == "已转交部门办理" and rows[2][8] == ""


# The XLSX holds the same row typed: times as Beijing-time date cells, the hours as a number, empty cells empty.
EXPECTED_FIRST_XLSX = ["2026110200001", "解放路路灯不亮", "咨询", "测试县交通运输局", None, "已答复",
                       datetime(2026, 11, 2, 9), datetime(2026, 11, 2, 9), datetime(2026, 11, 2, 11),
                       datetime(2026, 11, 2, 11), datetime(2026, 11, 2, 18), "是", 2.0, "满意", None, None,
                       "本站留言", "本站留言板"]


def test_xlsx_export_reads_back_with_openpyxl(client, auth, ledger_data):
    auth.login("office")
    response = client.get("/staff/ledger.xlsx?since=2026-11-01&until=2026-11-30")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == list(HEADERS)
    assert rows[1] == EXPECTED_FIRST_XLSX
    assert len(rows) == 3


def test_filters_and_late_answers(client, auth, ledger_data):
    auth.login("office")
    rows = _csv_rows(client.get(f"/staff/ledger.csv?department={ledger_data.roads}"))
    assert [r[1] for r in rows[1:]] == ["十月的留言", "解放路路灯不亮"]
    assert rows[1][11] == "否"  # published after the due time
    rows = _csv_rows(client.get("/staff/ledger.csv?category=投诉"))
    assert [r[1] for r in rows[1:]] == ["学校门口交通拥堵"]
    page = client.get("/staff/ledger?rating=satisfied").get_data(as_text=True)
    assert "解放路路灯不亮" in page and "学校门口交通拥堵" not in page


def test_huge_range_streams_and_stops_at_the_cap(make_app):
    app = make_app(EXPORT_MAX_ROWS=2)
    from conftest import AuthActions

    from portal.extensions import db
    from portal.models import Department
    from portal.services.accounts import signin

    with app.app_context():
        dept = Department(name="测试部门", slug="t")
        db.session.add(dept)
        db.session.commit()
        signin.create_user(db.session, "office", "correct-horse-battery", "office", "测试部门")
        dept_id = dept.id
    for i in range(5):
        make_question(app, i + 1, bj(2020, 1, 1 + i, 9), dept_id)
    client = app.test_client()
    AuthActions(client).login("office")
    response = client.get("/staff/ledger.csv?since=1990-01-01&until=2100-12-31")
    assert response.is_streamed
    rows = _csv_rows(response)
    assert len(rows) == 4 and "导出上限 2 行" in rows[3][0]
    sheet = load_workbook(io.BytesIO(client.get("/staff/ledger.xlsx?since=1990-01-01").get_data())).active
    assert sheet.max_row == 4


@pytest.mark.parametrize("query", ["since=2026-02-30", "since=yesterday", "until=2026-01-01&since=2026-02-01",
                                   "department=abc", "department=999", "status=lost", "category=闲聊", "rating=x",
                                   "page=0", "since=２０２６-01-01"])
@pytest.mark.parametrize("path", ["/staff/ledger", "/staff/ledger.csv", "/staff/ledger.xlsx"])
def test_invalid_filters_give_a_message_not_a_500(client, auth, staff, path, query):
    auth.login("office")
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "error-summary" in page and ("日期" in page or "部门" in page or "状态" in page or "类别" in page
                                        or "满意度" in page or "页码" in page)


def test_responders_cannot_open_the_ledger(client, auth, staff):
    auth.login("responder")
    assert client.get("/staff/ledger.csv").status_code == 403
