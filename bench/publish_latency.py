"""Publish-to-visible latency: publish N updates through the console while a poller fetches the feed.

Usage: python bench/publish_latency.py [--updates N] [--poll-interval S] [--feed PATH] [--database-url URL]

Starts the app under gunicorn (deploy config, 2 workers) on a temporary SQLite database (or the given
database URL, which must be empty or disposable), signs in as the spokesperson, and publishes N updates
through the real console form (POST /staff/bulletins/<id>/updates). A second thread polls the feed with
conditional GET (If-None-Match) every --poll-interval seconds. For each update, the delay is measured from
just before its POST is sent to the first feed response that contains it. Prints p50/p95/max of that delay,
the POST time, and how many polls were answered 304.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import random
import re
import socket
import statistics
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
sys.path.insert(0, str(ROOT))
PASSWORD = "bench-password-0123456789"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # the spokesperson's second factor, enrolled by _prepare


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(env: dict[str, str]) -> None:
    flask = [sys.executable, "-m", "flask", "--app", "portal"]
    subprocess.run([*flask, "init-db"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run([*flask, "create-user", "spokesperson", "--role", "spokesperson"], input=PASSWORD + "\n",
                   text=True, env=env, cwd=ROOT, check=True, capture_output=True)
    enrol = (
        "from portal import create_app\nfrom portal.extensions import db\nfrom portal.models import StaffUser\n"
        "from portal.services.accounts import totp\napp = create_app()\nwith app.app_context():\n"
        "    u = db.session.query(StaffUser).filter_by(username='spokesperson').one()\n"
        f"    u.totp_secret = totp.encrypt_secret(app.config['SECRET_KEY'], {TOTP_SECRET!r})\n    db.session.commit()\n"
    )
    subprocess.run([sys.executable, "-c", enrol], env=env, cwd=ROOT, check=True, capture_output=True)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--poll-interval", type=float, default=0.02)
    parser.add_argument("--feed", default="/feeds/bulletins.atom")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="publish-latency-"))
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'portal.db'}",
        "PORTAL_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "PORTAL_BASE_URL": "http://127.0.0.1",
        "PORTAL_SEARCH_INDEX_DIR": str(tmp / "idx"),
        "PORTAL_RATELIMIT_LOGIN": "1000 per minute",
        "WEB_CONCURRENCY": "2",
        "PORTAL_ACCESS_LOG": str(tmp / "access.log"),
    }
    _prepare(env)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
         "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        run(base, args)
    finally:
        server.terminate()
        server.wait(timeout=20)


def run(base: str, args) -> None:
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def token(path: str) -> str:
        page = browser.open(base + path).read().decode()
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    def post(path: str, fields: dict[str, str]) -> str:
        data = urllib.parse.urlencode(fields).encode()
        response = browser.open(base + path, data=data)
        return response.geturl()

    landing = post("/login", {"username": "spokesperson", "password": PASSWORD, "csrf_token": token("/login")})
    if landing.endswith("/login/totp"):
        import pyotp

        post("/login/totp", {"code": pyotp.TOTP(TOTP_SECRET).now(), "csrf_token": token("/login/totp")})
    landing = post("/staff/bulletins", {
        "title": "发布延迟测试事件", "slug": "latency", "severity": "4", "status": "ongoing",
        "started_at": "2026-11-25 08:00", "next_update_due_at": "", "summary": "",
        "csrf_token": token("/staff/bulletins"),
    })
    incident_id = int(re.search(r"/staff/bulletins/(\d+)", landing).group(1))
    csrf = token(f"/staff/bulletins/{incident_id}")

    seen: dict[int, float] = {}
    polls = {"200": 0, "304": 0}
    stop = threading.Event()

    def poller() -> None:
        etag = None
        while not stop.is_set():
            request = urllib.request.Request(base + args.feed)
            if etag:
                request.add_header("If-None-Match", etag)
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    body = response.read().decode()
                    etag = response.headers.get("ETag")
                    now = time.perf_counter()
                    polls["200"] += 1
                    for marker in re.findall(r"延迟测试 #(\d+)", body):
                        seen.setdefault(int(marker), now)
            except urllib.error.HTTPError as exc:
                if exc.code != 304:
                    raise
                polls["304"] += 1
            time.sleep(args.poll_interval)

    thread = threading.Thread(target=poller, daemon=True)
    thread.start()
    sent: dict[int, float] = {}
    post_times = []
    for n in range(1, args.updates + 1):
        time.sleep(random.uniform(0.1, 0.3))
        fields = {"kind": "update", "title": f"延迟测试 #{n}", "body": f"第 {n} 条测试通报。", "when": "now",
                  "publish_at": "", "press_at": "", "press_place": "", "livestream_url": "", "questions": "",
                  "submit": "发布", "csrf_token": csrf}
        sent[n] = time.perf_counter()
        post(f"/staff/bulletins/{incident_id}/updates", fields)
        post_times.append(time.perf_counter() - sent[n])
    deadline = time.perf_counter() + 10
    while len(seen) < args.updates and time.perf_counter() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=5)
    delays = [(seen[n] - sent[n]) * 1000 for n in sent if n in seen]
    missing = [n for n in sent if n not in seen]
    print(f"feed {args.feed}, {args.updates} updates, poll interval {args.poll_interval * 1000:.0f} ms")
    print(f"publish-to-visible delay: p50 {statistics.median(delays):.0f} ms, p95 {_percentile(delays, 0.95):.0f} ms, "
          f"max {max(delays):.0f} ms; not seen within 10 s: {len(missing)}")
    post_ms = [t * 1000 for t in post_times]
    print(f"console POST (publish + redirect): p50 {statistics.median(post_ms):.0f} ms, max {max(post_ms):.0f} ms")
    print(f"polls: {polls['200']} answered 200, {polls['304']} answered 304 (not modified)")


if __name__ == "__main__":
    main()
