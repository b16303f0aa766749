"""The office exports a large ledger in a real browser: the progress page counts up to 100 % and offers the file,
with JavaScript (the page polls the JSON status, no reload) and without it (the page reloads itself)."""

from __future__ import annotations

import csv
import io
import re
import time

from openpyxl import load_workbook

try:
    from playwright.sync_api import expect
except ImportError:  # the `site` fixture skips (or fails when the browser tests are required) with the reason
    expect = None

from .conftest import HISTORY_ROWS, WIDTHS, login, shoot

HEADER = "留言编号"


def _start(page, site, button: str) -> None:
    login(page, site, "office")
    page.goto("/staff/ledger?since=2020-01-01&until=2020-12-31")
    expect(page.locator(".exports")).to_contain_text(f"当前筛选共 {HISTORY_ROWS} 条")
    page.get_by_role("button", name=button).click()
    page.wait_for_url(re.compile(r"/staff/ledger/exports/\d+$"))


def test_large_export_shows_progress_to_100_percent_and_downloads(new_context, site, tmp_path):
    page = new_context().new_page()
    _start(page, site, "生成 CSV")
    page.evaluate("() => { window.notReloaded = true; }")
    link = page.get_by_role("link", name=re.compile("^下载"))
    seen = []
    deadline = time.monotonic() + 120
    while not link.is_visible():
        shown = page.locator(".export-percent").inner_text()
        if not seen or seen[-1] != shown:
            seen.append(shown)
        assert time.monotonic() < deadline, f"no download link after 120 s; progress seen: {seen}"
        page.wait_for_timeout(100)
    print(f"\nexport progress seen on the page: {' '.join(seen)} -> 100%")
    expect(page.locator(".export-percent")).to_have_text("100%")
    expect(page.locator(".export-count")).to_have_text(f"已导出 {HISTORY_ROWS} / {HISTORY_ROWS} 行")
    expect(page.locator(".export-state")).to_contain_text("导出完成")
    value, maximum = page.evaluate("() => { const b = document.getElementById('export-progress');"
                                   " return [b.value, b.max]; }")
    assert value == maximum == HISTORY_ROWS
    assert page.evaluate("() => window.notReloaded === true"), "the script updated the page; it did not reload"
    shoot(page, "ledger-export-done")

    with page.expect_download() as info:
        link.click()
    target = tmp_path / "ledger.csv"
    info.value.save_as(target)
    assert info.value.suggested_filename.endswith(".csv")
    table = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert table[0][0] == HEADER
    assert len(table) == HISTORY_ROWS + 1
    assert {row[5] for row in table[1:]} == {"不予受理"}  # the status word, as on /track (issue 16)
    assert table[1][0] == "2020000000000" and table[-1][0] == f"2020{HISTORY_ROWS - 1:09d}"


def test_export_progress_works_without_javascript(new_context, site, tmp_path):
    page = new_context(WIDTHS["phone"], java_script_enabled=False).new_page()
    _start(page, site, "生成 Excel（XLSX）")
    link = page.get_by_role("link", name=re.compile("^下载"))
    expect(link).to_be_visible(timeout=120_000)  # the page reloads itself every 2 s until the file is ready
    expect(page.locator(".export-percent")).to_have_text("100%")
    expect(page.locator(".export-count")).to_have_text(f"已导出 {HISTORY_ROWS} / {HISTORY_ROWS} 行")
    shoot(page, "ledger-export-nojs")
    with page.expect_download() as info:
        link.click()
    target = tmp_path / "ledger.xlsx"
    info.value.save_as(target)
    sheet = load_workbook(target, read_only=True).active
    table = list(sheet.iter_rows(values_only=True))
    assert table[0][0] == HEADER
    assert len(table) == HISTORY_ROWS + 1
