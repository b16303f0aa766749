"""What the two nginx logs cost: a page from nginx's proxy cache with deploy/nginx.conf as shipped (everyday log
with networks only + the network log), against the same file with no access log (the baseline, measured in the
same run), with the two logs written on every request (no buffer), and with one log in nginx's default `combined`
format (what Debian's http-level default gave before).

Usage: .venv/bin/python bench/nginx_logs.py [--rounds 3] [--duration 5] [--connections 32]
Needs nginx and wrk. The upstream is a tiny local server whose 12 KB page nginx keeps (s-maxage=60), so the runs
measure nginx and its logging, not the app. Variants run back to back within each round; ratios are per round.
"""

from __future__ import annotations

import argparse
import http.server
import importlib.util
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("nginx_local", ROOT / "bench" / "nginx_local.py")
nginx_local = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nginx_local)

PAGE = ("<!doctype html><title>t</title>" + "<p>青石镇山洪通报：转移群众1260人。</p>" * 260).encode()
ACCESS_LOG = re.compile(r"^    access_log \S+/portal(-netlog)?/access\.log [^\n]*\n", re.M)


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Cache-Control", "public, max-age=0, s-maxage=60")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


def variants(log_dir: Path) -> dict[str, object]:
    def off(conf: str) -> str:
        return ACCESS_LOG.sub("", conf).replace("    error_log ", "    access_log off;\n    error_log ", 1)

    def combined(conf: str) -> str:
        return ACCESS_LOG.sub("", conf).replace(
            "    error_log ", f"    access_log {log_dir}/combined.log combined;\n    error_log ", 1)

    def check(edit):
        def checked(conf: str) -> str:
            out = edit(conf)
            assert len(ACCESS_LOG.findall(conf)) == 2 and not ACCESS_LOG.findall(out), "deploy/nginx.conf changed"
            return out
        return checked

    def unbuffered(conf: str) -> str:
        assert conf.count(" buffer=64k flush=1s;") == 2, "deploy/nginx.conf changed"
        return conf.replace(" buffer=64k flush=1s;", ";")

    off, combined = check(off), check(combined)
    return {"no access log (baseline)": off, "shipped, unbuffered": unbuffered, "combined (Debian default)": combined, "shipped (two logs)": None}


def wrk(url: str, args) -> tuple[float, float]:
    out = subprocess.run(["wrk", "-c", str(args.connections), "-t", "2", "-d", f"{args.duration}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rps, float(p99.group(1)) * scale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if nginx_local.binary() is None or not shutil.which("wrk"):
        print("needs nginx and wrk (apt-get install nginx wrk)", file=sys.stderr)
        return 2
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(args.rounds):
            for number, (name, edit) in enumerate(variants(Path(tmp) / f"r{round_no}").items()):
                where = Path(tmp) / f"r{round_no}-v{number}"
                (Path(tmp) / f"r{round_no}").mkdir(exist_ok=True)
                port = _free_port()
                with nginx_local.running(where, port, upstream.server_port, edit=edit):
                    url = f"http://127.0.0.1:{port}/incidents/qingshi-flood"
                    subprocess.run(["curl", "-s", "-o", "/dev/null", url], check=False)  # fill the cache
                    results.setdefault(name, []).append(wrk(url, args))
    upstream.shutdown()
    base = results["no access log (baseline)"]
    print(f"nginx cached 12 KB page, wrk -c {args.connections} -t 2 -d {args.duration}s, {args.rounds} rounds "
          "(provisional: shared 2-core machine)")
    print(f"{'variant':28} {'req/s (median)':>15} {'p99 ms':>8} {'x baseline (median; lowest)':>30}")
    for name, runs in results.items():
        ratios = [r[0] / b[0] for r, b in zip(runs, base, strict=True)]
        print(f"{name:28} {statistics.median(r[0] for r in runs):15.0f} {statistics.median(r[1] for r in runs):8.1f} "
              f"{statistics.median(ratios):>22.2f}; {min(ratios):.2f}")
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    raise SystemExit(main())
