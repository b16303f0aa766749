"""A full database: writes get a 503 page with a message (the typed text kept), reads keep working."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import ask


def test_full_sqlite_database_refuses_writes_politely_and_keeps_serving_reads(make_app, database_template, tmp_path):
    if database_template[0] != "sqlite":
        pytest.skip("max_page_count reproduces a full disk on SQLite")
    probe = make_app()
    path = probe.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    pages = sqlite3.connect(path).execute("PRAGMA page_count").fetchone()[0]
    app = make_app(SQLITE_MAX_PAGE_COUNT=pages + 3, ASK_QUOTA_PER_HOUR=10000)
    client = app.test_client()
    long_body = "库存已满测试内容。" * 200
    statuses = []
    for i in range(200):
        response = ask(client, title=f"磁盘写满测试第{i}条", body=long_body)
        statuses.append(response.status_code)
        if response.status_code == 503:
            page = response.get_data(as_text=True)
            assert "尚未提交" in page and f"磁盘写满测试第{i}条" in page and "库存已满测试内容" in page
            break
    assert statuses[0] == 303 and statuses[-1] == 503, statuses[-3:]
    assert client.get("/").status_code == 200
    assert client.get("/questions").status_code == 200
