"""Instructions nginx spends per request on a static-tree file against a static copy (valgrind's callgrind).

Usage: python bench/nginx_instructions.py [--requests N] [--size BYTES]

Wall-clock ratios on this shared machine move by ±0.1 from round to round; instruction counts do not. For each of
the two targets this runs deploy/nginx.conf (bench/nginx_local.py: ports and paths rewritten) with one worker
process, no master, under `valgrind --tool=callgrind`, and sends N and 3N keep-alive GETs of one page: the
difference of the two totals over 2N is the cost of one request, start-up and shut-down cancelled out. The targets:

- the tree: the page written where the worker writes it (`<tree>/.page.html`, with the `.tick` links), asked for
  at `/` as a reader does (try_files, the tick and page maps, the tree's headers);
- the copy: the same bytes in a location like bench/load.py's static limit (alias, fixed headers).

Only user-space instructions are counted (the kernel's part, sendfile and the network, is the same for both).
Needs Debian's nginx and valgrind.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import nginx_local

ROOT = Path(__file__).resolve().parents[1]

COPY = """    location /copy/ {{
        alias {folder}/;
        types {{ }}
        default_type text/html;
        gzip_static on;
        gzip_vary off;
        charset utf-8;
        charset_types *;
        add_header Cache-Control "public, max-age=10, s-maxage=1, stale-while-revalidate=60, stale-if-error=600";
        add_header Vary "Cookie, Accept-Encoding";
        add_header Content-Security-Policy "default-src 'self'" always;
        add_header X-Content-Type-Options "nosniff" always;
        add_header X-Frame-Options "DENY" always;
        add_header Referrer-Policy "strict-origin-when-cross-origin" always;
    }}"""


def total_instructions(tmp: Path, path: str, requests: int, port: int) -> int:
    """Run nginx under callgrind, send `requests` GETs of `path` on one connection, return the total."""
    out = tmp / f"callgrind-{requests}.out"
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", nginx_local.binary(),
                             "-c", str(tmp / "nginx.conf"), "-p", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    raise SystemExit(f"{path}: HTTP {response.status}")
                break
            except (ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise SystemExit("nginx under valgrind did not start") from None
                time.sleep(0.2)
        for _ in range(requests):
            conn.request("GET", path)
            conn.getresponse().read()
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    text = out.read_text(errors="replace")
    found = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
    if found is None:
        raise SystemExit(f"no total in {out}")
    return int(found.group(1))


def measure(target: str, body: bytes, requests: int) -> float:
    tmp = Path(tempfile.mkdtemp(prefix=f"portal-instr-{target}-"))
    try:
        tree = tmp / "pages"
        tree.mkdir()
        (tree / ".page.html").write_bytes(body)
        (tree / ".tick").mkdir()
        for tenth in range(10):
            os.symlink("..", tree / ".tick" / str(tenth))
        copy = tmp / "copy"
        copy.mkdir()
        (copy / "1.txt").write_bytes(body)
        port = free_port()
        conf = nginx_local.portal_conf(tmp, port, 9, COPY.format(folder=copy), tree)
        (tmp / "portal.conf").write_text(conf)
        shutil.copy(nginx_local.DEPLOY.with_name("nginx-tick.conf"), tmp / "portal-tick.conf")
        for folder in ("portal", "portal-netlog"):
            (tmp / "log" / folder).mkdir(parents=True, exist_ok=True)
        user = "user root;" if os.geteuid() == 0 else ""
        main = nginx_local.MAIN.format(user=user, tmp=tmp).replace(
            "worker_processes auto;", "worker_processes 1;\nmaster_process off;\ndaemon off;")
        (tmp / "nginx.conf").write_text(main)
        path = "/" if target == "tree" else "/copy/1.txt"
        low = total_instructions(tmp, path, requests, port)
        high = total_instructions(tmp, path, 3 * requests, port)
        return (high - low) / (2 * requests)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--size", type=int, default=30000, help="bytes of the page (README.md's first bytes)")
    args = parser.parse_args()
    if not shutil.which("valgrind") or nginx_local.binary() is None:
        raise SystemExit("needs valgrind and nginx (Debian: apt-get install -y valgrind nginx)")
    body = (ROOT / "README.md").read_bytes()[: args.size]
    copy = measure("copy", body, args.requests)
    tree = measure("tree", body, args.requests)
    print(f"instructions per request ({args.size} bytes, plain): static copy {copy:,.0f}; static-tree file "
          f"{tree:,.0f}; copy / tree = {copy / tree:.2f}")


if __name__ == "__main__":
    main()
