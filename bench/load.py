"""Crisis-scale load: the portal under gunicorn (deploy config) and nginx, against two same-run baselines.

Usage: python bench/load.py [--duration D] [--edge-duration E] [--rounds R] [--connections N] [--pages LIST]
                          [--keep]

Prepares a temporary SQLite database with the real corpus imported (bench/corpus_to_jsonl.py, then
`flask import-questions`), the demo content and its pinned incident (`flask seed-demo`) and a search index
(`flask reindex`); starts

- the portal under gunicorn with deploy/gunicorn.conf.py on 127.0.0.1 (in-process render cache), with the
  environment of deploy/portal.service (behind one proxy, security headers added by nginx),
- a bare Flask "hello" app under the same gunicorn config (the framework floor),
- the background worker (`flask worker`, as deploy/portal-worker.service) writing the static tree
  (PORTAL_PAGE_TREE_DIR, portal/pagetree.py),
- nginx running deploy/nginx.conf itself (bench/nginx_local.py: only ports and paths rewritten) in front of the
  portal, serving the tree's files and the rest through its proxy cache, plus a static copy of every measured
  page (the limit): the same body, served by the same nginx with the same headers as the page (its
  Cache-Control and Vary, and the security headers), from a location with nginx's usual open-file cache.

For each page wrk (-c N -t 2 --latency, each run bounded in time) first runs it cold (a dummy session cookie,
which bypasses the render cache, so every request renders), then R rounds. Each round runs the hello app and the
page cached by the app (anonymous, from the render cache), D seconds each, then compares nginx's two ways of serving
the page in short runs (E seconds each) placed symmetrically, so that a drift of the machine's speed during the
block favours neither: static, nginx, static again, static again, nginx, static (the block reversed every other
round). "static" is nginx serving the static copy (the limit), saved again just before each of its runs; "nginx"
is the page through nginx (anonymous: the worker's file from the static tree; the search page, which takes a
query, from nginx's proxy cache). The round's ratio is the mean of the nginx runs over the mean of the four static
runs. "static again" against "static" is the same file measured twice (an A/A ratio): what a ratio moves by on
this machine when nothing differs, printed beside every page and summed up at the end.
This machine is shared and noisy: the median of the rounds is printed (with the lowest round); requests/s and
the percentiles are medians of the rounds' means (the worst round's p95 is printed too). On the incident page a
spokesperson publishes updates through the console during every run of each round, and a poller measures
publish-to-visible during the cached runs (directly from gunicorn) and the nginx runs (the worker rewrites the
page's file after each publication).
In every round (or the first --gzip-rounds) more runs send a browser's Accept-Encoding: nginx serving the saved
gzip form of the copy (gzip_static: the limit for compressed pages) and the page through nginx (the .gz file the
worker wrote), as static gz, nginx gz, nginx gz, static gz (reversed every other round), then nginx compressing
the saved copy on every request (what each hit would cost if nginx compressed it).
Also prints start-up time and memory per worker (RSS and PSS: preloaded workers share most pages).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.cookiejar
import itertools
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

import nginx_local

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from portal.views.security import EDGE_HEADERS  # noqa: E402

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


# One round, in order (the edge blocks reversed every other round): the app's runs, then nginx's plain block, then
# (with a browser's Accept-Encoding) the saved gzip form served by gzip_static (the limit) against the page's .gz
# through nginx, and the saved page compressed by nginx on every request (the old way).
APP_RUNS = ("hello", "cached")
PLAIN_BLOCK = ("static", "nginx", "static again", "static again", "nginx", "static")
GZIP_BLOCK = ("static gz", "nginx gz", "nginx gz", "static gz")
GZIP_RUNS = ("static gz", "nginx gz", "fly gz")
STATIC_RUNS = ("static", "static again", "static gz")
GZIP = ("Accept-Encoding: gzip, deflate, br",)


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
        "from portal.services.accounts import totp\napp = create_app()\nwith app.app_context():\n"
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


def wrk(url: str, args, lua: Path, headers: tuple[str, ...] = (), duration: int | None = None) -> dict:
    duration = duration or args.duration
    cmd = ["wrk", "-c", str(args.connections), "-t", "2", "-d", f"{duration}s", "--latency", "--timeout", "5s",
           "-s", str(lua)]
    for h in headers:
        cmd += ["-H", h]
    done = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=duration + 60)
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


def wait_source(url: str, from_tree: bool, timeout: float = 30) -> str:
    """Wait until nginx serves `url` from the static tree (the worker writes a page once it was read through the
    app); returns where nginx takes it from (X-Cache-Status: FILE, or the proxy cache's HIT)."""
    deadline = time.perf_counter() + timeout
    while True:
        with urllib.request.urlopen(url, timeout=10) as response:
            status = response.headers.get("X-Cache-Status", "")
        if status == "FILE" or not from_tree or time.perf_counter() > deadline:
            return status
        time.sleep(0.2)


def fmt(r: dict) -> str:
    return f"{r['rps']:>8.0f} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['p99']:>7.1f} {r['errors']:>6}"


def copy_location(tmp: Path, name: str, headers) -> str:
    """Where nginx serves the static copies of a page, with the headers the page has through nginx: under
    /copy/ the saved file, or its saved gzip form (gzip_static) to a client that takes gzip; under /fly/ the same
    file compressed by nginx on every request (what a cached page cost when nginx compressed each hit)."""
    content_type = headers.get("Content-Type", "text/html")
    folder = tmp / "copy" / name
    folder.mkdir(parents=True)
    blocks = []
    for prefix, gzip_static in (("copy", "on"), ("fly", "off")):
        lines = [f"    location /{prefix}/{name}/ {{", f"        alias {folder}/;", "        types { }",
                 f"        default_type {content_type.split(';')[0]};", f"        gzip_static {gzip_static};",
                 "        gzip_vary off;"]
        if "charset=utf-8" in content_type:
            lines += ["        charset utf-8;", "        charset_types *;"]
        for header in ("Cache-Control", "Vary"):
            if headers.get(header):
                lines.append(f'        add_header {header} "{headers[header]}";')
        for header, value in EDGE_HEADERS:
            lines.append(f'        add_header {header} "{value}" always;')
        lines.append("    }")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def save_copy(tmp: Path, app: str, name: str, path: str, serial: int) -> str:
    """Save the page as the app serves it now, under a new name (nginx keeps open files for a while), and
    return its URL path: a page that grows while the bench publishes is compared with its current copy."""
    with urllib.request.urlopen(app + path, timeout=30) as response:
        body = response.read()
    (tmp / "copy" / name / f"{serial}.txt").write_bytes(body)
    # The compressed form exactly as the app makes it (and nginx caches it).
    request = urllib.request.Request(app + path, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as response:
        packed = response.read()
        if response.headers.get("Content-Encoding") != "gzip":
            packed = gzip.compress(body, mtime=0)
    (tmp / "copy" / name / f"{serial}.txt.gz").write_bytes(packed)
    return f"/copy/{name}/{serial}.txt"


def round_mean(runs: list[dict]) -> dict:
    """One round's runs of one kind as one: requests/s and percentiles averaged, errors summed, the worst max."""
    out = {key: statistics.mean(r[key] for r in runs) for key in ("rps", "p50", "p95", "p99")}
    return {**out, "max": max(r["max"] for r in runs), "errors": sum(r["errors"] for r in runs)}


def median_run(rounds: list[list[dict]]) -> dict:
    """Requests/s and percentiles as medians of the rounds' means, the worst round's p95 beside them; errors summed."""
    means = [round_mean(runs) for runs in rounds]
    out = {key: statistics.median(r[key] for r in means) for key in ("rps", "p50", "p95", "p99")}
    return {**out, "p95_worst": max(r["p95"] for r in means), "max": max(r["max"] for r in means),
            "errors": sum(r["errors"] for r in means)}


def paired(rounds: list[list[dict]], bases: list[list[dict]]) -> tuple[float, float]:
    """Median and lowest of the per-round ratios (the mean requests/s of the round's runs over its bases')."""
    ratios = [round_mean(runs)["rps"] / round_mean(base)["rps"] for runs, base in zip(rounds, bases, strict=True)]
    return statistics.median(ratios), min(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run of the app (cold, hello, cached)")
    parser.add_argument("--edge-duration", type=int, default=2,
                        help="seconds per wrk run of nginx's blocks (static against the page through nginx)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per page")
    parser.add_argument("--gzip-rounds", type=int, default=None,
                        help="rounds (of the first R; default all) that also measure the gzip runs (a browser's "
                             "Accept-Encoding)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--pages", default="home,board,question,incident,feed,search")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    gzip_rounds = args.rounds if args.gzip_rounds is None else args.gzip_rounds
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")
    if nginx_local.binary() is None:
        raise SystemExit("nginx is not installed (Debian: apt-get install -y nginx)")
    tmp = Path(tempfile.mkdtemp(prefix="portal-load-"))
    lua = tmp / "pct.lua"
    lua.write_text(LUA)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'portal.db'}",
        "PORTAL_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "PORTAL_BASE_URL": "http://127.0.0.1",
        "PORTAL_SEARCH_INDEX_DIR": str(tmp / "idx"),
        "PORTAL_RATELIMIT_LOGIN": "1000 per minute",
        # wrk is one client standing for thousands of citizens: the per-client search quota would answer 429.
        "PORTAL_RATELIMIT_SEARCH": "1000000 per minute",
        "PORTAL_ACCESS_LOG": "/dev/null",
        # As deploy/portal.service: behind one proxy, which adds the constant security headers.
        "PORTAL_PROXY_COUNT": "1",
        "PORTAL_SECURITY_HEADERS_AT_EDGE": "true",
        "PORTAL_ARGON2_MEMORY_KIB": "8192",
    }
    procs: list[subprocess.Popen] = []
    with contextlib.ExitStack() as stack:
        try:
            prepare(env, tmp)
            app_port, hello_port, nginx_port = free_port(), free_port(), free_port()
            # As deploy/portal.service and deploy/portal-worker.service: the worker writes the pages nginx serves.
            env["PORTAL_PAGE_TREE_DIR"] = str(tmp / "pages")
            env["PORTAL_BASE_URL"] = f"http://127.0.0.1:{app_port}"
            t0 = time.perf_counter()
            portal = gunicorn(env, "wsgi:app", app_port, tmp / "portal.log")
            procs.append(portal)
            wait_up(f"http://127.0.0.1:{app_port}/", 120)
            startup = time.perf_counter() - t0
            procs.append(subprocess.Popen([sys.executable, "-m", "flask", "--app", "portal", "worker"], cwd=ROOT,
                                          env=env, stdout=(tmp / "worker.log").open("w"), stderr=subprocess.STDOUT,
                                          start_new_session=True))
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
            locations = []
            for name in chosen:
                with urllib.request.urlopen(app + pages[name], timeout=30) as response:
                    locations.append(copy_location(tmp, name, response.headers))
            stack.enter_context(nginx_local.running(tmp / "nginx", nginx_port, app_port, "\n".join(locations),
                                                    tree=tmp / "pages"))
            edge = f"http://127.0.0.1:{nginx_port}"
            wait_up(f"{edge}{save_copy(tmp, app, chosen[0], pages[chosen[0]], 0)}", 20)
            serial = 0

            print(f"\nwrk -c {args.connections} -t 2 --latency, -d {args.duration}s (app) and {args.edge_duration}s (nginx's "
                  f"blocks), {args.rounds} rounds per page; "
                  f"{os.cpu_count()} cores; gunicorn workers {os.environ.get('WEB_CONCURRENCY', 'from cores')}")
            header = (f"{'page':<9} {'how':<15} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}"
                      "  ratio (median of rounds; lowest round)")
            print(header)
            rows, gz_rows, aa_ratios = [], [], []
            visibility: dict[str, list] = {"direct": [], "nginx": []}
            publisher = None
            for name in chosen:
                path = pages[name]
                cold = wrk(app + path, args, lua, headers=("Cookie: session=bench-cold",))
                # Warm both forms in both caches: a form nginx does not hold yet makes every concurrent reader
                # wait for the first one (proxy_cache_lock, which nginx polls every 500 ms).
                for _, accept in itertools.product(range(3), ({}, {"Accept-Encoding": "gzip"})):
                    for base in (app, edge):
                        urllib.request.urlopen(urllib.request.Request(base + path, headers=accept), timeout=30).read()
                source = wait_source(edge + path, name != "search")
                kinds = tuple(dict.fromkeys((*APP_RUNS, *PLAIN_BLOCK, *GZIP_RUNS)))
                # runs[kind][round]: that kind's runs in that round.
                runs: dict[str, list[list[dict]]] = {kind: [] for kind in kinds}
                targets = {"hello": f"http://127.0.0.1:{hello_port}/", "cached": app + path, "nginx": edge + path,
                           "nginx gz": edge + path}
                for round_no in range(args.rounds):
                    for kind in kinds:
                        runs[kind].append([])
                    # The edge blocks are symmetric and reversed every other round, so that a drift of the
                    # machine's speed during a block favours neither side.
                    plain = PLAIN_BLOCK[::-1] if round_no % 2 else PLAIN_BLOCK
                    packed = GZIP_BLOCK[::-1] if round_no % 2 else GZIP_BLOCK
                    order = [*APP_RUNS, *plain]
                    if round_no < gzip_rounds:
                        order += [*packed, "fly gz"]
                    copy = ""
                    for kind in order:
                        if kind in STATIC_RUNS:
                            serial += 1
                            copy = save_copy(tmp, app, name, path, serial)
                            url = edge + copy
                        elif kind == "fly gz":
                            url = edge + copy.replace("/copy/", "/fly/", 1)
                        else:
                            url = targets[kind]
                        # On the incident page a spokesperson publishes during every run of a round (so each ratio
                        # compares runs under the same extra work); visibility is read from the portal directly
                        # during the cached run and through nginx during the nginx runs.
                        stop, poller = threading.Event(), None
                        if name == "incident":
                            publisher = publisher or Publisher(app)
                            read_base, found = {"cached": (app, visibility["direct"]),
                                                "nginx": (edge, visibility["nginx"])}.get(kind, (app, []))
                            poller = threading.Thread(target=publish_to_visible, daemon=True,
                                                      args=(publisher, read_base, path, stop, found))
                            poller.start()
                        runs[kind][-1].append(wrk(url, args, lua, headers=GZIP if kind in GZIP_RUNS else (),
                                                  duration=None if kind in APP_RUNS else args.edge_duration))
                        stop.set()
                        if poller is not None:
                            poller.join(timeout=35)
                # Both static kinds are the limit for the page through nginx; each against the other is the A/A.
                limit = [a + b for a, b in zip(runs["static"], runs["static again"], strict=True)]
                gz_limit = [r for r in runs["static gz"] if r]
                floor, cached = median_run(runs["hello"]), median_run(runs["cached"])
                static, proxied = median_run(limit), median_run(runs["nginx"])
                app_ratio, app_low = paired(runs["cached"], runs["hello"])
                edge_ratio, edge_low = paired(runs["nginx"], limit)
                aa_ratio, aa_low = paired(runs["static again"], runs["static"])
                aa_ratios.append(aa_ratio)
                rows.append((name, cached, proxied, app_ratio, edge_ratio, source))
                print(f"{name:<9} {'hello (floor)':<15} {fmt(floor)}")
                print(f"{name:<9} {'app cold':<15} {fmt(cold)}  {cold['rps'] / floor['rps']:.2f} x hello")
                print(f"{name:<9} {'app cached':<15} {fmt(cached)}  {app_ratio:.2f} x hello; {app_low:.2f}")
                print(f"{name:<9} {'nginx static':<15} {fmt(static)}  (the limit; static again / static, the "
                      f"A/A: {aa_ratio:.2f}; {aa_low:.2f})")
                print(f"{name:<9} {'nginx ' + source:<15} {fmt(proxied)}  {edge_ratio:.2f} x static; {edge_low:.2f}")
                if gz_limit:
                    gz_runs, fly_runs = runs["nginx gz"][:len(gz_limit)], runs["fly gz"][:len(gz_limit)]
                    gz_ratio, gz_low = paired(gz_runs, gz_limit)
                    fly_ratio, fly_low = paired(fly_runs, gz_limit)
                    gz_rows.append((name, gz_ratio, fly_ratio, gz_low))
                    print(f"{name:<9} {'static gz':<15} {fmt(median_run(gz_limit))}  (the limit, gzip_static)")
                    print(f"{name:<9} {'nginx gz':<15} {fmt(median_run(gz_runs))}  "
                          f"{gz_ratio:.2f} x static gz; {gz_low:.2f}")
                    print(f"{name:<9} {'gzip each hit':<15} {fmt(median_run(fly_runs))}  "
                          f"{fly_ratio:.2f} x static gz; {fly_low:.2f}")
                sys.stdout.flush()

            print("\npublish-to-visible while the cached load runs (incident page, anonymous poller every 20 ms;")
            print("measured from the publish POST's answer, i.e. the commit; the POST's own time shown apart;")
            print("through nginx: the worker's new file; target max < 1 s):")
            for where, found in visibility.items():
                ok = [d for kind, d, _ in found if kind == "ok"]
                posts = [p for _, _, p in found]
                bad = [f"{kind}: {d}" for kind, d, _ in found if kind != "ok"]
                if ok:
                    if where == "nginx":
                        print(f"  publish-to-visible through nginx: max {max(ok) * 1000:.0f} ms "
                              f"{'PASS' if max(ok) < 1 and not bad else 'MISS'} (target < 1 s)")
                    print(f"  {where:<6}: {len(ok)} updates, visible after p50 {statistics.median(ok) * 1000:.0f} ms, "
                          f"max {max(ok) * 1000:.0f} ms; publish POST p50 {statistics.median(posts) * 1000:.0f} "
                          f"ms, max {max(posts) * 1000:.0f} ms; not seen: {bad or 'none'}")
                else:
                    print(f"  {where:<6}: no measurement; problems: {bad}")
            mem = worker_memory(portal.pid)
            hello_mem = worker_memory(hello.pid)
            print(f"\nstart-up (spawn to first 200 on /): portal {startup:.2f} s, hello {hello_startup:.2f} s")
            if mem:
                print(f"memory per portal worker ({len(mem)} workers): RSS "
                      f"{statistics.mean(r for r, _ in mem) / 1024:.0f} MiB, PSS "
                      f"{statistics.mean(p for _, p in mem) / 1024:.0f} MiB; hello worker RSS "
                      f"{statistics.mean(r for r, _ in hello_mem) / 1024:.0f} MiB" if hello_mem else "")

            print("\ntargets (cached app >= 0.8 x hello; nginx >= 0.95 x static for a file (0.8 through the proxy "
                  "cache); p95 < 50 ms; no errors):")
            for name, cached, proxied, app_ratio, edge_ratio, source in rows:
                bound = 0.95 if source == "FILE" else 0.8
                checks = [
                    ("app cached/hello", app_ratio >= 0.8, f"{app_ratio:.2f}"),
                    (f"nginx {source}/static", edge_ratio >= bound, f"{edge_ratio:.2f}"),
                    ("p95 app cached", cached["p95"] < 50,
                     f"{cached['p95']:.1f} ms (worst round {cached['p95_worst']:.1f})"),
                    ("p95 nginx", proxied["p95"] < 50,
                     f"{proxied['p95']:.1f} ms (worst round {proxied['p95_worst']:.1f})"),
                    ("errors", cached["errors"] + proxied["errors"] == 0, str(cached["errors"] + proxied["errors"])),
                ]
                print(f"  {name:<9} " + "; ".join(f"{label} {value} {'PASS' if ok else 'MISS'}"
                                                   for label, ok, value in checks))
            if gz_rows:
                print("\nbrowsers (Accept-Encoding: gzip), x the gzip_static limit: nginx gz (lowest round) / nginx "
                      "compressing each hit")
                for name, gz_ratio, fly_ratio, gz_low in gz_rows:
                    print(f"  {name:<9} {gz_ratio:.2f} ({gz_low:.2f}) / {fly_ratio:.2f}  "
                          f"{'PASS' if gz_ratio >= 0.95 else 'MISS'} (target >= 0.95)")
            if aa_ratios:
                print(f"\nnoise: the same static file measured twice in the same blocks (A/A, median of rounds per "
                      f"page): {min(aa_ratios):.2f}-{max(aa_ratios):.2f}")
        finally:
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
