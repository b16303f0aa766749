"""Instructions nginx spends per request on a static-tree file against a static copy (valgrind's callgrind).

Usage: python bench/nginx_instructions.py [--requests N] [--size BYTES]

Wall-clock ratios on this shared machine move by ±0.1 from round to round; instruction counts do not. For each of
the two targets this runs deploy/nginx.conf (bench/nginx_local.py: ports and paths rewritten) with one worker
process, no master, under `valgrind --tool=callgrind`, and sends N and 3N keep-alive GETs of one page: the
difference of the two totals over 2N is the cost of one request, start-up and shut-down cancelled out. The targets:

- the tree: a page, a site feed and an incident's feed written where the worker writes them (`<tree>/.page.html`,
  `<tree>/feeds/b.atom/.feed.atom`, `<tree>/i/x/feed.atom/.feed.atom`, plain and .gz, with the `.tick` links), asked
  for at `/`, `/feeds/b.atom` and `/i/x/feed.atom` as a reader does (the page map, try_files, the tree's headers;
  the incident's feed after the page's lookup missed);
- the copy: the same bytes in a location like bench/load.py's static limit (alias, fixed headers).

Each is counted plain and with a browser's Accept-Encoding (gzip_static).

Only user-space instructions are counted (the kernel's part, sendfile and the network, is the same for both).
Needs Debian's nginx and valgrind.
"""

from __future__ import annotations

import argparse
import gzip
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


def total_instructions(tmp: Path, path: str, requests: int, port: int, gzip_form: bool) -> int:
    """Run nginx under callgrind, send `requests` GETs of `path` on one connection (`gzip_form`: taking gzip, and
    checking that the answer is the .gz), return the total."""
    out = tmp / f"callgrind-{requests}.out"
    headers = {"Accept-Encoding": "gzip, deflate, br"} if gzip_form else {}
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", nginx_local.binary(),
                             "-c", str(tmp / "nginx.conf"), "-p", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    raise SystemExit(f"{path}: HTTP {response.status}")
                if (response.getheader("Content-Encoding") == "gzip") != gzip_form:
                    raise SystemExit(f"{path}: not the form asked for")
                break
            except (ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise SystemExit("nginx under valgrind did not start") from None
                time.sleep(0.2)
        for _ in range(requests):
            conn.request("GET", path, headers=headers)
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


def measure(target: str, body: bytes, requests: int, gzip_form: bool) -> float:
    """Instructions per request for `target`: "copy", "page", "feed" or "incident feed"."""
    tmp = Path(tempfile.mkdtemp(prefix=f"portal-instr-{target.replace(' ', '-')}-"))
    try:
        tree = tmp / "pages"
        paths = {"copy": "/copy/1.txt", "page": "/", "feed": "/feeds/b.atom", "incident feed": "/i/x/feed.atom"}
        copy = tmp / "copy"
        copy.mkdir()
        for folder in ("feeds/b.atom", "i/x/feed.atom"):
            (tree / folder).mkdir(parents=True)
        for where in (tree / ".page.html", tree / "feeds/b.atom/.feed.atom", tree / "i/x/feed.atom/.feed.atom",
                      copy / "1.txt"):
            where.write_bytes(body)
            where.with_name(where.name + ".gz").write_bytes(gzip.compress(body, mtime=0))
        (tree / ".tick").mkdir()
        for tenth in range(10):
            os.symlink("..", tree / ".tick" / str(tenth))
        port = free_port()
        nginx_local.write_config(tmp, port, 9, COPY.format(folder=copy), tree=tree, main_edit=lambda main: main.replace(
            "worker_processes auto;", "worker_processes 1;\nmaster_process off;\ndaemon off;"))
        path = paths[target]
        low = total_instructions(tmp, path, requests, port, gzip_form)
        high = total_instructions(tmp, path, 3 * requests, port, gzip_form)
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
    print(f"instructions per request ({args.size:,} bytes; gzip: the .gz, {len(gzip.compress(body)):,} bytes)")
    for gzip_form in (False, True):
        copy = measure("copy", body, args.requests, gzip_form)
        form = "gzip " if gzip_form else "plain"
        print(f"  {form} static copy        {copy:>8,.0f}")
        for target in ("page", "feed", "incident feed"):
            tree = measure(target, body, args.requests, gzip_form)
            print(f"  {form} tree {target:<13} {tree:>8,.0f}  (+{tree - copy:,.0f}; copy / tree = {copy / tree:.2f})")


if __name__ == "__main__":
    main()
