"""The portal under the real WSGI server: gunicorn with the deploy config serves pages and accepts a question."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.parse
import urllib.request

import pytest
from server_helpers import copy_sqlite_template, gunicorn, server_env


@pytest.fixture
def server(tmp_path, database_template):
    db_path = copy_sqlite_template(database_template, tmp_path / "portal.db",
                                   "the gunicorn smoke test runs on the SQLite template")
    env = server_env(db_path, tmp_path, "gunicorn-test-secret-key-0123456789")
    with gunicorn(env, tmp_path / "gunicorn.log") as base:
        yield base, tmp_path / "gunicorn.log"


def test_gunicorn_serves_and_accepts_a_question(server):
    base, logfile = server
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    home = opener.open(base + "/")
    assert home.status == 200 and "Set-Cookie" not in home.headers
    form = opener.open(base + "/ask").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({
        "csrf_token": token, "title": "公园厕所夜间上锁", "body": "人民公园的公共厕所晚上八点就上锁了，晚上散步的人很不方便。",
        "category": "建议", "department": "", "contact": "",
    }).encode()
    done = opener.open(base + "/ask", data=data)
    page = done.read().decode()
    assert done.status == 200 and "留言已提交" in page
    assert re.search(r'class="code">[A-Z0-9-]{14}<', page)
    logged = logfile.read_text()
    assert "POST /ask" in logged and "127.0.0.1" not in logged.split("Listening at")[-1].split("\n", 1)[-1]
