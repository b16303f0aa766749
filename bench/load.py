"""Crisis-scale load: the portal under gunicorn (deploy config) and nginx, against two same-run baselines.

Usage: python bench/load.py [--duration S] [--connections N] [--pages LIST] [--keep]

Prepares a temporary SQLite database with the real corpus imported (bench/corpus_to_jsonl.py, then
`flask import-questions`), the demo content and its pinned incident (`flask seed-demo`) and a search index
(`flask reindex`); starts

- the portal under gunicorn with deploy/gunicorn.conf.py on 127.0.0.1 (in-process render cache),
- a bare Flask "hello" app under the same gunicorn config (the framework floor),
- nginx (a generated config in a temporary folder, current user, free port) with the proxy cache of
  deploy/nginx.conf in front of the portal, and a static copy of every measured page (the limit).

For each page it runs wrk (-c N -t 2 -d S --latency, each run bounded in time) four ways: cold (a dummy
session cookie, which bypasses the render cache, so every request renders), cached (anonymous, from the
render cache), through nginx (anonymous, from nginx's proxy cache), and nginx serving the static copy.
Prints requests/s, p50/p95/p99, errors, and the ratios cached/hello and nginx/static. While the cached runs of
the incident page go on, a spokesperson publishes updates through the console and a poller measures
publish-to-visible (directly from gunicorn, and through nginx, whose bound is the page's max-age). Also prints
start-up time and memory per worker (RSS and PSS: preloaded workers share most pages).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shutil
import signal
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
PASSWORD = "bench-password-0123456789"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SLUG = "qingshi-flood"  # the demo incident (content/demo/incident.json)
LUA = """
done = function(summary, latency, requests)
  io.write(string.format("PCT %d %d %d %d\\n", latency:percentile(50), latency:percentile(95),
                         latency:percentile(99), latency.max))
  local e = summary.errors
  io.write(string.format("ERR %d %d %d %d %d\\n", e.connect, e.read, e.write, e.status, e.timeout))
end
"""
NGINX_CONF = """
worker_processes auto;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on; tcp_nopush on;  # as Debian's nginx.conf, which includes deploy/nginx.conf
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    types {{ text/html html; application/atom+xml atom; text/css css; application/javascript js; }}
    default_type application/octet-stream;
    proxy_cache_path {tmp}/nginx-cache levels=1:2 keys_zone=portal:20m max_size=256m inactive=10m use_temp_path=off;
    upstream portal_app {{ server 127.0.0.1:{app_port}; keepalive 32; }}
    map "$cookie_session$cookie_remember_token" $portal_private {{ default 1; "" 0; }}
    server {{
        listen 127.0.0.1:{port};
        gzip on; gzip_min_length 512; gzip_proxied any;
        gzip_types text/css application/javascript application/atom+xml application/rss+xml application/json;
        location /static/ {{ alias {static}/; }}
        location /copy/ {{ alias {tmp}/copy/; }}
        location / {{
            proxy_pass http://portal_app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_cache portal;
            proxy_cache_key "$scheme$host$request_uri";
            proxy_ignore_headers Vary;
            proxy_cache_bypass $portal_private;
            proxy_no_cache $portal_private;
            proxy_cache_use_stale updating error timeout http_500 http_502 http_503 http_504;
            proxy_cache_background_update on;
            proxy_cache_lock on;
            proxy_cache_revalidate on;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up within {timeout:.0f} s")


def flask_cmd(env, *args, stdin=None) -> str:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "portal", *args], env=env, cwd=ROOT,
                          input=stdin, text=True, capture_output=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def prepare(env: dict[str, str], tmp: Path) -> None:
    t0 = time.perf_counter()
    flask_cmd(env, "init-db")
    flask_cmd(env, "seed-demo")
    corpus = tmp / "corpus.jsonl"
    subprocess.run([sys.executable, "bench/corpus_to_jsonl.py", "--output", str(corpus)], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=300)
    out = flask_cmd(env, "import-questions", str(corpus))
    print("import:", out.strip().splitlines()[-1] if out.strip() else "")
    flask_cmd(env, "create-user", "benchspokes", "--role", "spokesperson", stdin=PASSWORD + "\n")
    enrol = (
        "from portal import create_app\nfrom portal.extensions import db\nfrom portal.models import StaffUser\n"
        "from portal.services import totp\napp = create_app()\nwith app.app_context():\n"
        "    u = db.session.query(StaffUser).filter_by(username='benchspokes').one()\n"
        f"    u.totp_secret = totp.encrypt_secret(app.config['SECRET_KEY'], {TOTP_SECRET!r})\n"
        "    db.session.commit()\n"
    )
    subprocess.run([sys.executable, "-c", enrol], env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)
    flask_cmd(env, "reindex")
    print(f"prepared the database and index in {time.perf_counter() - t0:.0f} s")


def gunicorn(env, app_spec: str, port: int, log: Path, chdir: Path = ROOT) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "deploy/gunicorn.conf.py"), "--chdir", str(chdir),
         "--bind", f"127.0.0.1:{port}", app_spec],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def worker_memory(master_pid: int) -> list[tuple[int, int]]:
    """(RSS KiB, PSS KiB) of each worker of a gunicorn master."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != master_pid:
                continue
            rss = pss = 0
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
            out.append((rss, pss))
        except (OSError, ValueError, IndexError):
            continue
    return out


def wrk(url: str, args, lua: Path, headers: tuple[str, ...] = ()) -> dict:
    cmd = ["wrk", "-c", str(args.connections), "-t", "2", "-d", f"{args.duration}s", "--latency", "--timeout", "5s",
           "-s", str(lua)]
    for h in headers:
        cmd += ["-H", h]
    done = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=args.duration + 60)
    text = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50, p95, p99, pmax = (int(x) / 1000 for x in re.search(r"PCT (\d+) (\d+) (\d+) (\d+)", text).groups())
    errs = [int(x) for x in re.search(r"ERR (\d+) (\d+) (\d+) (\d+) (\d+)", text).groups()]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"rps": rps, "p50": p50, "p95": p95, "p99": p99, "max": pmax,
            "errors": sum(errs) + (int(non2xx.group(1)) if non2xx else 0)}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ARG002
        return None


class Publisher:
    """Signs in as the bench spokesperson and publishes updates through the console."""

    def __init__(self, base: str) -> None:
        self.base = base
        jar = http.cookiejar.CookieJar()
        self.browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        # Publishing does not follow the redirect to the console: the clock stops when the commit is answered.
        self.no_redirect = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
        landing = self.post("/login", {"username": "benchspokes", "password": PASSWORD,
                                       "csrf_token": self.token("/login")})
        if landing.endswith("/login/totp"):
            import pyotp

            self.post("/login/totp", {"code": pyotp.TOTP(TOTP_SECRET).now(), "csrf_token": self.token("/login/totp")})
        page = self.browser.open(self.base + "/staff/bulletins", timeout=10).read().decode()
        self.incident_id = int(re.search(r"/staff/bulletins/(\d+)", page).group(1))
        self.csrf = self.token(f"/staff/bulletins/{self.incident_id}")

    def token(self, path: str) -> str:
        page = self.browser.open(self.base + path, timeout=10).read().decode()
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    def post_once(self, path: str, fields: dict[str, str]) -> None:
        try:
            self.no_redirect.open(self.base + path, data=urllib.parse.urlencode(fields).encode(), timeout=30)
        except urllib.error.HTTPError as exc:
            if exc.code != 303:
                raise

    def post(self, path: str, fields: dict[str, str]) -> str:
        return self.browser.open(self.base + path, data=urllib.parse.urlencode(fields).encode(), timeout=30).geturl()

    def publish(self, marker: str) -> None:
        self.post_once(f"/staff/bulletins/{self.incident_id}/updates", {
            "kind": "update", "title": marker, "body": f"压力测试期间发布：{marker}。", "when": "now",
            "publish_at": "", "press_at": "", "press_place": "", "livestream_url": "", "questions": "",
            "submit": "发布", "csrf_token": self.csrf})


def publish_to_visible(publisher: Publisher, read_base: str, path: str, stop: threading.Event, out: list) -> None:
    """Publish every ~1.5 s; poll `read_base + path` (anonymous) every 20 ms until the marker shows."""
    n = 0
    while not stop.is_set():
        n += 1
        marker = f"可见性测试{os.getpid()}-{time.time_ns()}"
        sent = time.perf_counter()
        try:
            publisher.publish(marker)
        except Exception as exc:  # noqa: BLE001
            out.append(("error", str(exc), 0.0))
            return
        committed = time.perf_counter()
        # Keep polling until this update shows (30 s at most), even if the load run has ended meanwhile.
        while time.perf_counter() - committed < 30:
            try:
                with urllib.request.urlopen(read_base + path, timeout=5) as response:
                    if marker in response.read().decode():
                        out.append(("ok", time.perf_counter() - committed, committed - sent))
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.02)
        else:
            out.append(("late", time.perf_counter() - committed, committed - sent))
        stop.wait(1.5)


def fmt(r: dict) -> str:
    return f"{r['rps']:>8.0f} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['p99']:>7.1f} {r['errors']:>6}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--pages", default="home,board,question,incident,feed,search")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is not installed (Debian: apt-get install -y nginx wrk)")
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    tmp = Path(tempfile.mkdtemp(prefix="portal-load-"))
    lua = tmp / "pct.lua"
    lua.write_text(LUA)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'portal.db'}",
        "PORTAL_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "PORTAL_SEARCH_INDEX_DIR": str(tmp / "idx"),
        "PORTAL_RATELIMIT_LOGIN": "1000 per minute",
        # wrk is one client standing for thousands of citizens: the per-client search quota would answer 429.
        "PORTAL_RATELIMIT_SEARCH": "1000000 per minute",
        "PORTAL_ACCESS_LOG": "/dev/null",
        "PORTAL_FEED_MAX_AGE": "10",
        "PORTAL_PROXY_COUNT": "1",
        "PORTAL_ARGON2_MEMORY_KIB": "8192",
    }
    procs: list[subprocess.Popen] = []
    nginx_started = False
    try:
        prepare(env, tmp)
        app_port, hello_port, nginx_port = free_port(), free_port(), free_port()
        t0 = time.perf_counter()
        portal = gunicorn(env, "wsgi:app", app_port, tmp / "portal.log")
        procs.append(portal)
        startup = wait_up(f"http://127.0.0.1:{app_port}/", 120)
        startup = time.perf_counter() - t0
        hello = gunicorn(env, "hello_app:app", hello_port, tmp / "hello.log", chdir=ROOT / "bench")
        procs.append(hello)
        hello_startup = wait_up(f"http://127.0.0.1:{hello_port}/", 60)
        app = f"http://127.0.0.1:{app_port}"

        board = urllib.request.urlopen(app + "/questions", timeout=10).read().decode()
        number = re.search(r'href="/questions/(\d+)"', board).group(1)
        pages = {
            "home": "/", "board": "/questions", "question": f"/questions/{number}",
            "incident": f"/incidents/{SLUG}", "feed": "/feeds/bulletins.atom",
            "search": "/search?q=" + urllib.parse.quote("道路"),
        }
        chosen = [p for p in args.pages.split(",") if p in pages]
        (tmp / "copy").mkdir()
        for name in chosen:
            with urllib.request.urlopen(app + pages[name], timeout=30) as response:
                (tmp / "copy" / f"{name}.html").write_bytes(response.read())
        user = "user root;" if os.geteuid() == 0 else ""
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(
            user=user, tmp=tmp, port=nginx_port, app_port=app_port, static=ROOT / "portal" / "static"))
        subprocess.run([nginx_bin, "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-g", "daemon on;"],
                       check=True, timeout=30, capture_output=True)
        nginx_started = True
        edge = f"http://127.0.0.1:{nginx_port}"
        wait_up(edge + "/copy/home.html" if "home" in chosen else edge + "/", 20)

        print(f"\nwrk -c {args.connections} -t 2 -d {args.duration}s --latency; {os.cpu_count()} cores; "
              f"gunicorn workers {os.environ.get('WEB_CONCURRENCY', 'from cores')}")
        floor = wrk(f"http://127.0.0.1:{hello_port}/", args, lua)
        print(f"baseline bare Flask hello (same gunicorn config): {fmt(floor)}")
        header = f"{'page':<9} {'how':<15} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}  ratio"
        print(header)
        rows = []
        visibility: dict[str, list] = {"direct": [], "nginx": []}
        pollers: list[threading.Thread] = []
        for name in chosen:
            path = pages[name]
            static = wrk(f"{edge}/copy/{name}.html", args, lua)
            cold = wrk(app + path, args, lua, headers=("Cookie: session=bench-cold",))
            for _ in range(3):
                urllib.request.urlopen(app + path, timeout=30).read()
                urllib.request.urlopen(edge + path, timeout=30).read()
            stops = []
            if name == "incident":
                publisher = Publisher(app)
                stop = threading.Event()
                stops.append(stop)
                pollers.append(threading.Thread(target=publish_to_visible, daemon=True,
                                                args=(publisher, app, path, stop, visibility["direct"])))
                pollers[-1].start()
            cached = wrk(app + path, args, lua)
            for stop in stops:
                stop.set()
            for thread in pollers:
                thread.join(timeout=35)
            stops = []
            if name == "incident":
                stop = threading.Event()
                stops.append(stop)
                time.sleep(2)
                pollers.append(threading.Thread(target=publish_to_visible, daemon=True,
                                                args=(publisher, edge, path, stop, visibility["nginx"])))
                pollers[-1].start()
            proxied = wrk(edge + path, args, lua)
            for stop in stops:
                stop.set()
            for thread in pollers:
                thread.join(timeout=35)
            rows.append((name, path, static, cold, cached, proxied))
            print(f"{name:<9} {'nginx static':<15} {fmt(static)}  (the limit)")
            print(f"{name:<9} {'app cold':<15} {fmt(cold)}  {cold['rps'] / floor['rps']:.2f} x hello")
            print(f"{name:<9} {'app cached':<15} {fmt(cached)}  {cached['rps'] / floor['rps']:.2f} x hello")
            print(f"{name:<9} {'nginx cached':<15} {fmt(proxied)}  {proxied['rps'] / static['rps']:.2f} x static")

        print("\npublish-to-visible while the cached load runs (incident page, anonymous poller every 20 ms;")
        print("measured from the publish POST's answer, i.e. the commit; the POST's own time shown apart;")
        print("through nginx the bound is the page's max-age, 10 s, by design):")
        for where, found in visibility.items():
            ok = [d for kind, d, _ in found if kind == "ok"]
            posts = [p for _, _, p in found]
            bad = [f"{kind}: {d}" for kind, d, _ in found if kind != "ok"]
            if ok:
                print(f"  {where:<6}: {len(ok)} updates, visible after p50 {statistics.median(ok) * 1000:.0f} ms, "
                      f"max {max(ok) * 1000:.0f} ms; publish POST p50 {statistics.median(posts) * 1000:.0f} ms, "
                      f"max {max(posts) * 1000:.0f} ms; not seen: {bad or 'none'}")
            else:
                print(f"  {where:<6}: no measurement; problems: {bad}")
        mem = worker_memory(portal.pid)
        hello_mem = worker_memory(hello.pid)
        print(f"\nstart-up (spawn to first 200 on /): portal {startup:.2f} s, hello {hello_startup:.2f} s")
        if mem:
            print(f"memory per portal worker ({len(mem)} workers): RSS {statistics.mean(r for r, _ in mem) / 1024:.0f} "
                  f"MiB, PSS {statistics.mean(p for _, p in mem) / 1024:.0f} MiB; hello worker RSS "
                  f"{statistics.mean(r for r, _ in hello_mem) / 1024:.0f} MiB" if hello_mem else "")

        print("\ntargets (cached app >= 0.8 x hello; nginx >= 0.8 x static; p95 < 50 ms; no errors):")
        for name, _path, static, _cold, cached, proxied in rows:
            checks = [
                ("app cached/hello", cached["rps"] / floor["rps"] >= 0.8, f"{cached['rps'] / floor['rps']:.2f}"),
                ("nginx/static", proxied["rps"] / static["rps"] >= 0.8, f"{proxied['rps'] / static['rps']:.2f}"),
                ("p95 app cached", cached["p95"] < 50, f"{cached['p95']:.1f} ms"),
                ("p95 nginx", proxied["p95"] < 50, f"{proxied['p95']:.1f} ms"),
                ("errors", cached["errors"] + proxied["errors"] == 0, str(cached["errors"] + proxied["errors"])),
            ]
            print(f"  {name:<9} " + "; ".join(f"{label} {value} {'PASS' if ok else 'MISS'}"
                                               for label, ok, value in checks))
    finally:
        if nginx_started:
            subprocess.run([nginx_bin, "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-s", "quit"],
                           timeout=30, capture_output=True)
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")


if __name__ == "__main__":
    main()
