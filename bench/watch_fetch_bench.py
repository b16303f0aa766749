"""One watch fetch cycle over many sources on local HTTP servers, cold and when every answer is a 304.

    .venv/bin/python bench/watch_fetch_bench.py [--sources 1000] [--hosts 50] [--items-per-feed 20]

The feeds are served by a separate process (so the servers do not share the cycle's interpreter) on `--hosts` ports
of 127.0.0.1, each port a host to the per-host cap. Printed beside a bare HTTP GET loop over the same URLs in the
same run (sequential, one keep-alive client; plain and with If-None-Match). Targets: cold <= 60 s, all-304 <= 10 s.
`bench/watch_bench.py` runs this too unless given --skip-fetch.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PLACES = ["青石镇", "城关镇", "东环路", "老粮站", "新街", "幸福路", "县医院", "实验小学", "工业园", "河滨公园"]
TROUBLES = ["停水", "路灯不亮", "占道经营", "噪音扰民", "垃圾没人清运", "欠薪", "道路塌陷", "污水直排", "堵车", "拆迁补偿"]


def feed_body(feed: int, items: int) -> bytes:
    """An RSS 2.0 document of `items` posts of varied text, different for every feed, some words shared."""
    from watch_bench import CHARS

    rng = random.Random(feed)
    parts = [f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>论坛 {feed}</title>"
             f"<link>http://bbs{feed}.example/</link><description>测试</description>"]
    for n in range(items):
        place, trouble = rng.choice(PLACES), rng.choice(TROUBLES)
        text = "".join(rng.choice(CHARS) for _ in range(rng.randint(80, 400)))
        at = rng.randint(0, len(text))
        text = text[:at] + place + trouble + text[at:]
        parts.append(f"<item><title>{place}{trouble}{text[:12]}</title><link>http://bbs{feed}.example/t-{n}.html</link>"
                     f"<guid>http://bbs{feed}.example/t-{n}.html</guid><author>网友{feed}-{n}</author>"
                     f"<pubDate>Mon, 12 May 2025 02:{n % 60:02d}:07 GMT</pubDate>"
                     f"<description><![CDATA[<p>{text}</p>]]></description></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def serve(sources: int, hosts: int, items: int) -> None:
    """The server process: print the ports, then serve until stdin closes."""
    bodies = {f"/feed/{i}.rss": feed_body(i, items) for i in range(sources)}
    etags = {path: f'"{hashlib.sha256(body).hexdigest()[:16]}"' for path, body in bodies.items()}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            body = bodies.get(self.path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.headers.get("If-None-Match") == etags[self.path]:
                self.send_response(304)
                self.send_header("ETag", etags[self.path])
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etags[self.path])
            self.send_header("Last-Modified", "Mon, 12 May 2025 02:15:07 GMT")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    servers = []
    for _ in range(hosts):
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
    print(" ".join(str(s.server_address[1]) for s in servers), flush=True)
    sys.stdin.read()


def bare_loop(urls: list[str], etags: dict[str, str] | None) -> float:
    """The baseline: one keep-alive client, one GET after another (conditional when etags are given)."""
    import httpx

    started = time.perf_counter()
    with httpx.Client(trust_env=False, timeout=20) as client:
        for url in urls:
            headers = {"If-None-Match": etags[url]} if etags else {}
            response = client.get(url, headers=headers)
            if etags is not None and response.status_code == 200:
                etags[url] = response.headers["etag"]
            elif etags is None:
                response.read()
    return time.perf_counter() - started


def run(sources: int, hosts: int, items: int, database_url: str = "") -> None:
    """Start the servers, set up the portal on a fresh database, measure the baseline and both cycles."""
    proc = subprocess.Popen([sys.executable, __file__, "--serve", "--sources", str(sources), "--hosts", str(hosts),
                             "--items-per-feed", str(items)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ports = proc.stdout.readline().split()
        urls = [f"http://127.0.0.1:{ports[i % len(ports)]}/feed/{i}.rss" for i in range(sources)]
        _measure(urls, items, database_url)
    finally:
        proc.stdin.close()
        proc.wait(10)


def _measure(urls: list[str], items: int, database_url: str) -> None:
    from flask_migrate import upgrade

    from portal import create_app
    from portal.extensions import db
    from portal.models.watch import WatchItem, WatchSource
    from portal.services.watch import cycle, plans
    from portal.services.watch.settings import from_config
    from portal.timeutil import utcnow

    plain = bare_loop(urls, None)
    etags: dict[str, str] = {}
    for url in urls:
        etags[url] = ""
    bare_loop(urls, etags)  # learn the validators
    conditional = bare_loop(urls, etags)

    tmp = Path(tempfile.mkdtemp(prefix="watch-fetch-bench-"))
    url = database_url or f"sqlite:///{tmp / 'portal.db'}"
    app = create_app({"TESTING": True, "SECRET_KEY": "bench-secret-key-0123456789", "SQLALCHEMY_DATABASE_URI": url,
                      "SEARCH_INDEX_DIR": str(tmp / "idx")})
    settings = from_config(app.config)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        db.session.add_all(WatchSource(name=f"论坛 {i}", platform="论坛", feed_url=u, html_url=u)
                           for i, u in enumerate(urls))
        for n, trouble in enumerate(TROUBLES):
            plans.create_plan(db.session, None, plans.PlanFields(
                name=f"方案{n}", any_words=[trouble], must_words=[PLACES[n]] if n % 3 == 0 else [],
                severity="一般"), utcnow())
        db.session.commit()
        now = utcnow()
        started = time.perf_counter()
        cold = cycle.run_due_fetches(db.session, now, settings, everything=True)
        cold_s = time.perf_counter() - started
        stored = db.session.query(WatchItem).count()
        started = time.perf_counter()
        again = cycle.run_due_fetches(db.session, now + timedelta(hours=1), settings, everything=True)
        again_s = time.perf_counter() - started
    n = len(urls)
    print(f"fetch cycle over {n} sources ({len({u.rsplit(':', 1)[1].split('/')[0] for u in urls})} hosts, "
          f"{items} items a feed, {url.split(':', 1)[0]}; concurrency {settings.concurrency}, "
          f"{settings.per_host} per host):")
    print(f"  cold: {cold_s:.1f} s ({cold.fetched} fetched, {cold.failed} failed, {cold.new_items} new items, "
          f"{stored} stored, {cold.matches} matches) — target <= 60 s")
    print(f"  every answer a 304: {again_s:.1f} s ({again.not_modified} not modified, {again.new_items} new) "
          f"— target <= 10 s")
    print(f"  baseline, bare GET loop (sequential, keep-alive): {plain:.1f} s for 200s, {conditional:.1f} s for 304s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--items-per-feed", type=int, default=20)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.sources, args.hosts, args.items_per_feed)
    else:
        run(args.sources, args.hosts, args.items_per_feed, args.database_url)


if __name__ == "__main__":
    main()
