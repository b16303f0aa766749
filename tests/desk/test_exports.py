"""Large ledger exports in the background: the worker runs the job (`work(app)` = `flask worker --burst`), which
reports its progress as JSON and on its page,
and the finished file (the right rows) downloads for the member of staff who asked for it, and no one else."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import timedelta

import pytest
from conftest import PASSWORD, AuthActions, csrf_token, work
from desk_helpers import bj
from openpyxl import load_workbook
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEntry, Department, ExportJob, Question, StaffUser
from portal.services.accounts import signin
from portal.services.desk import exports, ledger
from portal.services.desk.ledger import HEADERS
from portal.timeutil import utcnow

ROWS = 620  # more than two progress steps (exports.PROGRESS_EVERY)


def add_questions(app, count: int, department_id: int | None, year: int = 2021, start: int = 0) -> None:
    """Questions number `start` to `start + count - 1`, routed, received in `year` ten minutes apart (one commit)."""
    first = bj(year, 1, 4, 9)
    with app.app_context():
        db.session.add_all([
            Question(number=f"{year}{n:09d}", title=f"批量留言第{n}条", body="留言内容" * 5, category="咨询",
                     department_id=department_id, status="routed", received_at=first + timedelta(minutes=10 * n),
                     routed_at=first + timedelta(minutes=10 * n))
            for n in range(start, start + count)
        ])
        db.session.commit()


@pytest.fixture
def rows(app, staff):
    add_questions(app, ROWS - 20, staff.roads)
    add_questions(app, 20, staff.schools, start=ROWS - 20)
    return staff


def start_export(client, fmt: str = "csv", **filters: str):
    """Post the ledger's export form (with its token) and return the response."""
    token = csrf_token(client, "/staff/ledger")
    return client.post("/staff/ledger/exports", data={"csrf_token": token, "format": fmt, **filters})


def wait_until_finished(client, job_url: str, timeout: float = 60) -> tuple[dict, list[int]]:
    """Let the worker run, then poll the JSON status as the page's script does; returns the last status and every
    rows_done seen."""
    work(client.application)
    deadline = time.monotonic() + timeout
    seen: list[int] = []
    while True:
        response = client.get(job_url + ".json")
        assert response.status_code == 200 and response.is_json
        body = response.get_json()
        seen.append(body["rows_done"])
        if body["finished"]:
            return body, seen
        assert time.monotonic() < deadline, f"the export did not finish in {timeout} s: {body}"
        time.sleep(0.05)


def csv_rows(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_job_finishes_reports_counts_and_downloads_the_rows(app, client, auth, rows):
    auth.login("office")
    response = start_export(client, "csv", since="2021-01-01", until="2021-12-31")
    assert response.status_code == 303
    job_url = response.headers["Location"]
    assert job_url.startswith("/staff/ledger/exports/")

    status, seen = wait_until_finished(client, job_url)
    assert status["status"] == "done" and status["done"]
    assert status["rows_done"] == status["rows_total"] == ROWS
    assert status["percent"] == 100
    assert "导出完成" in status["message"] and str(ROWS) in status["message"]
    assert seen == sorted(seen), "progress never goes backwards"
    assert status["download_url"] == job_url + "/download"

    page = client.get(job_url).get_data(as_text=True)
    assert f'<progress id="export-progress" max="{ROWS}" value="{ROWS}">' in page
    assert f'<span class="export-done">{ROWS}</span> / <span class="export-total">{ROWS}</span>' in page
    assert 'http-equiv="refresh"' not in page  # finished: no more reloading
    assert f'href="{job_url}/download"' in page

    download = client.get(job_url + "/download")
    assert download.status_code == 200
    assert download.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in download.headers["Content-Disposition"] and ".csv" in download.headers["Content-Disposition"]
    table = csv_rows(download.get_data())
    assert table[0] == list(HEADERS)
    assert len(table) == ROWS + 1
    assert table[1][0] == "2021000000000" and table[1][3] == "测试县交通运输局"
    assert table[-1][1] == f"批量留言第{ROWS - 1}条" and table[-1][3] == "测试县教育局"


def test_xlsx_job_keeps_the_filters(app, client, auth, rows):
    auth.login("office")
    response = start_export(client, "xlsx", department=str(rows.schools))
    status, _seen = wait_until_finished(client, response.headers["Location"])
    assert status["status"] == "done" and status["rows_done"] == status["rows_total"] == 20
    download = client.get(status["download_url"])
    assert download.status_code == 200 and download.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(download.get_data()), read_only=True).active
    table = [[("" if c is None else str(c)) for c in row] for row in sheet.iter_rows(values_only=True)]
    assert table[0] == list(HEADERS)
    assert len(table) == 21 and {r[3] for r in table[1:]} == {"测试县教育局"}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "部门：测试县教育局" in page


def test_the_row_cap_holds_in_the_background_too(make_app):
    app = make_app(EXPORT_MAX_ROWS=300)
    with app.app_context():
        dept = Department(name="测试部门", slug="t")
        db.session.add(dept)
        db.session.commit()
        signin.create_user(db.session, "office", PASSWORD, "office", "测试部门")
        dept_id = dept.id
    add_questions(app, 350, dept_id)
    client = app.test_client()
    AuthActions(client).login("office")
    response = start_export(client, "csv")
    status, _seen = wait_until_finished(client, response.headers["Location"])
    assert status["rows_done"] == status["rows_total"] == 300
    table = csv_rows(client.get(status["download_url"]).get_data())
    assert len(table) == 1 + 300 + 1 and "导出上限 300 行" in table[-1][0]


def test_a_running_job_shows_progress_and_reloads_without_javascript(app, client, auth, rows):
    """A job not yet run (queued): the page shows 0 of the total, reloads itself without JavaScript, and has
    the script that polls the JSON status; the download is not there yet."""
    auth.login("office")
    with app.app_context():
        office = db.session.scalar(select(StaffUser).where(StaffUser.username == "office"))
        filters = ledger.parse_ledger_filters(db.session, {"since": "2021-01-01"})
        job, created = exports.start(db.session, office, filters, "csv", 100000)
        db.session.commit()
        job_id = job.id
    assert created
    page = client.get(f"/staff/ledger/exports/{job_id}").get_data(as_text=True)
    assert f'<progress id="export-progress" max="{ROWS}" value="0">0%</progress>' in page
    assert f'<span class="export-done">0</span> / <span class="export-total">{ROWS}</span>' in page
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    assert "/static/js/export-progress.js" in page
    assert f'href="/staff/ledger/exports/{job_id}"' in page  # the reload link
    assert '<p class="export-download" hidden>' in page
    body = client.get(f"/staff/ledger/exports/{job_id}.json").get_json()
    assert body["status"] == "queued" and not body["finished"] and body["download_url"] is None
    assert client.get(f"/staff/ledger/exports/{job_id}/download").status_code == 404

    # While it waits, a second export by the same person goes to this one instead of starting another.
    again = start_export(client, "xlsx")
    assert again.status_code == 303 and again.headers["Location"] == f"/staff/ledger/exports/{job_id}"
    assert "已有一个导出任务正在进行" in client.get(again.headers["Location"]).get_data(as_text=True)

    # The worker runs it; then the page has the download and stops reloading.
    work(app)
    status, _seen = wait_until_finished(client, f"/staff/ledger/exports/{job_id}")
    assert status["status"] == "done" and status["rows_done"] == ROWS
    page = client.get(f"/staff/ledger/exports/{job_id}").get_data(as_text=True)
    assert "http-equiv" not in page and '<p class="export-download">' in page


def test_a_job_whose_worker_died_is_reported_and_does_not_block(app, client, auth, rows):
    auth.login("office")
    with app.app_context():
        office = db.session.scalar(select(StaffUser).where(StaffUser.username == "office"))
        job, _created = exports.start(db.session, office, ledger.parse_ledger_filters(db.session, {}), "csv", 10)
        job.status = "running"
        job.heartbeat_at = utcnow() - exports.STALE_AFTER - timedelta(seconds=1)
        db.session.commit()
        job_id = job.id
    body = client.get(f"/staff/ledger/exports/{job_id}.json").get_json()
    assert body["status"] == "failed" and body["finished"] and "导出中断" in body["message"]
    response = start_export(client, "csv")
    assert response.headers["Location"] != f"/staff/ledger/exports/{job_id}"
    status, _seen = wait_until_finished(client, response.headers["Location"])
    assert status["status"] == "done"


def test_old_files_are_cleaned_up(app, client, auth, rows):
    auth.login("office")
    first = start_export(client, "csv", department=str(rows.schools)).headers["Location"]
    status, _seen = wait_until_finished(client, first)
    with app.app_context():
        job = db.session.get(ExportJob, status["id"])
        path = exports.file_path(job, app.config["EXPORT_DIR"])
        job.finished_at = utcnow() - timedelta(hours=app.config["EXPORT_KEEP_HOURS"], minutes=1)
        db.session.commit()
    assert path.is_file()
    second = start_export(client, "csv", department=str(rows.schools)).headers["Location"]
    wait_until_finished(client, second)
    assert not path.exists()
    body = client.get(first + ".json").get_json()
    assert body["status"] == "expired" and "已被清理" in body["message"]
    assert client.get(first + "/download").status_code == 404


def test_exports_are_audited(app, client, auth, rows):
    auth.login("office")
    status, _seen = wait_until_finished(client, start_export(client, "xlsx", category="咨询").headers["Location"])
    client.get("/staff/ledger.csv?department=" + str(rows.roads))
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "ledger.export")
                                     .order_by(AuditEntry.id)).all()
        assert [(e.actor_name, e.subject_type) for e in entries] == [("office", "export_job"), ("office", "ledger")]
        background, direct = (json.loads(e.detail) for e in entries)
        assert entries[0].subject_id == status["id"]
        assert background == {"format": "xlsx", "filters": {"category": "咨询"}, "rows": ROWS, "background": True}
        assert direct == {"format": "csv", "filters": {"department": str(rows.roads)}, "background": False}


def test_the_ledger_page_offers_a_background_export_for_many_rows(make_app, client, auth, rows):
    auth.login("office")
    page = client.get("/staff/ledger?since=2021-01-01").get_data(as_text=True)
    assert f"当前筛选共 {ROWS} 条" in page
    assert "/staff/ledger.csv?since=2021-01-01" in page and "/staff/ledger/exports" not in page  # small: direct

    busy = make_app(EXPORT_BACKGROUND_ROWS=100).test_client()  # the same database, a lower threshold
    AuthActions(busy).login("office")
    page = busy.get("/staff/ledger?since=2021-01-01&department=" + str(rows.roads)).get_data(as_text=True)
    assert '<form method="post" action="/staff/ledger/exports"' in page
    assert '<input type="hidden" name="since" value="2021-01-01">' in page
    assert f'<input type="hidden" name="department" value="{rows.roads}">' in page
    assert 'name="format" value="csv"' in page and 'name="format" value="xlsx"' in page
    assert "/staff/ledger.csv" not in page
    job_url = start_export(busy, "csv", since="2021-01-01").headers["Location"]
    wait_until_finished(busy, job_url)
    recent = busy.get("/staff/ledger").get_data(as_text=True)
    assert "最近的导出" in recent and f'href="{job_url}"' in recent and f"{ROWS} 行" in recent


def test_bad_requests_are_refused_with_a_message(client, auth, rows):
    auth.login("office")
    response = start_export(client, "pdf")
    assert response.status_code == 400 and "导出格式" in response.get_data(as_text=True)
    response = start_export(client, "csv", since="2021-02-30")
    assert response.status_code == 400 and "起始日期" in response.get_data(as_text=True)
    assert 'value="2021-02-30"' in response.get_data(as_text=True)  # what was typed is kept
    no_token = client.post("/staff/ledger/exports", data={"format": "csv"})
    assert no_token.status_code == 400
    assert client.get("/staff/ledger/exports/999").status_code == 404


def test_only_the_owner_and_only_ledger_roles_reach_a_job(app, client, auth, rows):
    auth.login("office")
    job_url = start_export(client, "csv").headers["Location"]
    wait_until_finished(client, job_url)
    with app.app_context():
        signin.create_user(db.session, "office2", PASSWORD, "office", "测试县人民政府办公室")
        db.session.commit()

    other = app.test_client()
    AuthActions(other).login("office2")
    for suffix in ("", ".json", "/download"):
        assert other.get(job_url + suffix).status_code == 404

    responder = app.test_client()
    AuthActions(responder).login("responder")
    token = csrf_token(responder, "/staff/")
    for suffix in ("", ".json", "/download"):
        response = responder.get(job_url + suffix)
        assert response.status_code == 403 and "无权访问" in response.get_data(as_text=True)
    refused = responder.post("/staff/ledger/exports", data={"csrf_token": token, "format": "csv"})
    assert refused.status_code == 403
    with app.app_context():
        owners = set(db.session.scalars(select(ExportJob.created_by_id)))
        office_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == "office"))
    assert owners == {office_id}
