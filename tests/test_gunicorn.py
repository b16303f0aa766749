"""The portal under the real WSGI server: gunicorn with the deploy config serves pages and accepts a question."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path, database_template):
    kind, where = database_template
    if kind != "sqlite":
        pytest.skip("the gunicorn smoke test runs on the SQLite template")
    import shutil

    shutil.copy(where, tmp_path / "portal.db")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
        "PORTAL_SECRET_KEY": "gunicorn-test-secret-key-0123456789",
        "PORTAL_SEARCH_INDEX_DIR": str(tmp_path / "idx"),
        "WEB_CONCURRENCY": "2",
        "PORTAL_ARGON2_MEMORY_KIB": "8192",
    }
    log = open(tmp_path / "gunicorn.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
         "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(base + "/", timeout=2)
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    else:
        proc.terminate()
        pytest.fail("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text()[-2000:])
    yield base, tmp_path / "gunicorn.log"
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


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
