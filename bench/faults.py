"""Fault drills against gunicorn on 127.0.0.1, with figures; exits non-zero when a promise is broken.

1. kill -9 of gunicorn workers while clients post questions: every acknowledged question is in the database.
2. a full database (SQLite max_page_count): writes get a 503 page with a message; reads keep working.
3. search_index/ deleted under load: searches answer with a notice (503) while it rebuilds, then find everything.

Usage: python bench/faults.py [--seconds 12] [--clients 8]
"""

from __future__ import annotations

import argparse
import http.client
import http.cookiejar
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn with the deploy config on a free port, on its own database and index."""

    def __init__(self, work: Path, workers: int = 3, **env_extra: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{work / 'portal.db'}",
            "PORTAL_SECRET_KEY": "faults-secret-key-0123456789abcdef",
            "PORTAL_BASE_URL": "http://127.0.0.1",
            "PORTAL_SEARCH_INDEX_DIR": str(work / "search_index"),
            "PORTAL_ASK_QUOTA_PER_HOUR": "1000000",
            "PORTAL_RATELIMIT_ASK": "1000000 per hour",
            "PORTAL_RATELIMIT_TRACK": "1000000 per minute",
            "PORTAL_ACCESS_LOG": str(work / "access.log"),
            "WEB_CONCURRENCY": str(workers),
            **env_extra,
        }
        self.log = open(work / "gunicorn.log", "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "--bind",
             f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.base + "/", timeout=2)
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        raise SystemExit("gunicorn did not start")

    def workers(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def flask(work: Path, *args: str, env: dict | None = None) -> str:
    run_env = {**os.environ, "DATABASE_URL": f"sqlite:///{work / 'portal.db'}",
               "PORTAL_SECRET_KEY": "faults-secret-key-0123456789abcdef",
               "PORTAL_BASE_URL": "http://127.0.0.1",
               "PORTAL_SEARCH_INDEX_DIR": str(work / "search_index"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "portal", *args], cwd=ROOT, env=run_env,
                          check=True, capture_output=True, text=True).stdout


def browser():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def ask(opener, base: str, title: str, body: str) -> tuple[int, str]:
    """Post the ask form; (status, page). 303 -> the done page is read (status 200 there means acknowledged)."""
    form = opener.open(base + "/ask", timeout=10).read().decode()
    token = TOKEN.search(form).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "title": title, "body": body, "category": "咨询",
                                   "department": "", "contact": ""}).encode()
    try:
        response = opener.open(base + "/ask", data=data, timeout=10)
        return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def drill_kill_workers(work: Path, seconds: float, clients: int) -> bool:
    server = Server(work)
    acknowledged: list[str] = []
    failures = {"connection": 0, "http": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        opener = browser()
        i = 0
        while not stop.is_set():
            i += 1
            title = f"故障演练客户{n}第{i}条"
            try:
                status, page = ask(opener, server.base, title, f"{title}：这是一条故障演练留言，用于核对是否丢失。")
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError):
                with lock:
                    failures["connection"] += 1
                continue
            if status == 200 and "留言已提交" in page:
                with lock:
                    acknowledged.append(title)
            else:
                with lock:
                    failures["http"] += 1

    kills = 0
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    deadline = time.time() + seconds
    while time.time() < deadline:
        time.sleep(1.2)
        victims = server.workers()
        if victims:
            os.kill(random.choice(victims), signal.SIGKILL)
            kills += 1
    stop.set()
    for t in threads:
        t.join(timeout=30)
    server.stop()
    db = sqlite3.connect(work / "portal.db")
    present = {row[0] for row in db.execute("SELECT title FROM question")}
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    missing = [t for t in acknowledged if t not in present]
    print(f"1. kill -9 under load: {clients} clients, {seconds:.0f} s, {kills} workers killed; "
          f"acknowledged {len(acknowledged)}, present {len([t for t in acknowledged if t in present])}, "
          f"missing {len(missing)}; failed requests (connection reset by a kill, or refused) "
          f"{failures['connection'] + failures['http']}; integrity_check {integrity}")
    return not missing and integrity == "ok" and len(acknowledged) > 0


def drill_full_database(work: Path) -> bool:
    pages = sqlite3.connect(work / "portal.db").execute("PRAGMA page_count").fetchone()[0]
    server = Server(work, workers=2, PORTAL_SQLITE_MAX_PAGE_COUNT=str(pages + 4))
    opener = browser()
    statuses: list[int] = []
    message_ok = False
    try:
        for i in range(300):
            status, page = ask(opener, server.base, f"写满演练第{i}条标题", "写满演练的留言内容。" * 150)
            statuses.append(status)
            if status == 503:
                message_ok = "尚未提交" in page and f"写满演练第{i}条标题" in page
                break
        reads = [urllib.request.urlopen(server.base + path, timeout=10).status for path in ("/", "/questions")]
    finally:
        server.stop()
    accepted = statuses.count(200)
    print(f"2. full database: {accepted} questions accepted, then {statuses[-1] if statuses else '-'} "
          f"with the message and the typed text kept: {message_ok}; reads while full: {reads}")
    return bool(statuses) and statuses[-1] == 503 and message_ok and reads == [200, 200]


def drill_index_deleted(work: Path, seconds: float) -> bool:
    flask(work, "seed-demo")
    flask(work, "reindex")
    server = Server(work, workers=2)
    query = "/search?q=" + urllib.parse.quote("路灯")

    def total() -> int | None:
        try:
            page = urllib.request.urlopen(server.base + query, timeout=10).read().decode()
        except urllib.error.HTTPError:
            return None
        match = re.search(r"找到 (\d+) 条", page)
        return int(match.group(1)) if match else 0

    before = total()
    counts = {"200": 0, "503 with notice": 0, "other": 0}
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                response = urllib.request.urlopen(server.base + query, timeout=10)
                counts["200"] += response.status == 200
            except urllib.error.HTTPError as exc:
                body = exc.read().decode()
                counts["503 with notice" if exc.code == 503 and "搜索索引正在建立" in body else "other"] += 1
            except (urllib.error.URLError, http.client.HTTPException, OSError):
                counts["other"] += 1

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1)
    shutil.rmtree(work / "search_index")
    started = time.time()
    recovered_after = None
    while time.time() - started < max(seconds, 30):
        if total() == before:
            recovered_after = time.time() - started
            break
        time.sleep(0.2)
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    server.stop()
    print(f"3. search_index deleted under load: before {before} hits; responses {counts}; "
          f"found everything again after {recovered_after if recovered_after is None else round(recovered_after, 1)} s")
    return before and recovered_after is not None and counts["other"] == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="faults-"))
    try:
        flask(work, "init-db")
        ok = [drill_kill_workers(work, args.seconds, args.clients), drill_full_database(work)]
        fresh = Path(tempfile.mkdtemp(prefix="faults-index-"))
        try:
            flask(fresh, "init-db")
            ok.append(drill_index_deleted(fresh, args.seconds))
        finally:
            shutil.rmtree(fresh, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("faults: " + ("all promises held" if all(ok) else f"BROKEN: {ok}"))
    raise SystemExit(0 if all(ok) else 1)


if __name__ == "__main__":
    main()
