"""Run deploy/nginx.conf itself on a free port, as the current user, in a temporary folder.

Used by bench/load.py and tests/test_nginx.py. The deploy file is rewritten only where it names the machine: the
listening port, the app's address, the cache and log folders and the checkout path; everything else (proxy cache, cookie
bypass, open-file cache, security headers, gzip) is what a deployment runs; deploy/nginx-tick.conf is included beside
it, as in conf.d/. The surrounding http {} block is Debian's (sendfile, tcp_nopush, the MIME types).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "nginx.conf"

MAIN = """
worker_processes auto;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    # As Debian's /etc/nginx/nginx.conf, which includes deploy/nginx.conf from conf.d/.
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/portal-tick.conf;
    include {tmp}/portal.conf;
}}
"""


def binary() -> str | None:
    """The nginx executable (Debian puts it in /usr/sbin, which a user's PATH may lack), or None."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None


def portal_conf(tmp: Path, port: int, app_port: int, extra_locations: str = "", tree: Path | None = None) -> str:
    """deploy/nginx.conf with this machine's port, app address, cache folder, checkout and static tree (`tree`,
    by default `tmp`/pages: the worker's PORTAL_PAGE_TREE_DIR); `extra_locations` (whole `location` blocks) go in
    the server block before the others."""
    text = DEPLOY.read_text()
    swaps = [
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"),
        ("/var/cache/nginx/portal", str(tmp / "cache")),
        ("/srv/portal/", f"{ROOT}/"),
        ("/var/lib/portal/pages", str(tree or tmp / "pages")),
        ("/var/log/nginx/portal", str(tmp / "log" / "portal")),  # both log folders (…/portal, …/portal-netlog)
    ]
    for old, new in swaps:
        if old not in text:
            raise RuntimeError(f"deploy/nginx.conf no longer contains {old!r}: update bench/nginx_local.py")
        text = text.replace(old, new)
    if extra_locations:
        text = text.replace("    location /static/ {", extra_locations + "\n    location /static/ {", 1)
    return text


def write_config(tmp: Path, port: int, app_port: int, extra_locations: str = "",
                 edit: Callable[[str], str] | None = None, tree: Path | None = None,
                 main_edit: Callable[[str], str] | None = None) -> Path:
    """Write, in `tmp`, the main file (Debian's http {} defaults; `main_edit`: a bench's change to it), the rewritten
    deploy/nginx.conf (`edit`: a bench's variant of it), deploy/nginx-tick.conf beside it and the log folders;
    returns the main file's path."""
    tmp.mkdir(parents=True, exist_ok=True)
    for folder, mode in (("portal", 0o750), ("portal-netlog", 0o700)):  # as deploy/tmpfiles-portal.conf makes them
        (tmp / "log" / folder).mkdir(parents=True, exist_ok=True)
        (tmp / "log" / folder).chmod(mode)
    conf = portal_conf(tmp, port, app_port, extra_locations, tree)
    (tmp / "portal.conf").write_text(edit(conf) if edit else conf)
    shutil.copy(DEPLOY.with_name("nginx-tick.conf"), tmp / "portal-tick.conf")
    user = "user root;" if os.geteuid() == 0 else ""
    main = MAIN.format(user=user, tmp=tmp)
    (tmp / "nginx.conf").write_text(main_edit(main) if main_edit else main)
    return tmp / "nginx.conf"


@contextmanager
def running(tmp: Path, port: int, app_port: int, extra_locations: str = "",
            edit: Callable[[str], str] | None = None, tree: Path | None = None) -> Iterator[Path]:
    """Start nginx with deploy/nginx.conf in `tmp` (`edit`: a bench's variant of the rewritten file); yields `tmp`;
    stops it (and waits) on the way out."""
    nginx = binary()
    if nginx is None:
        raise RuntimeError("nginx is not installed (Debian: apt-get install nginx)")
    write_config(tmp, port, app_port, extra_locations, edit, tree)
    base = [nginx, "-c", str(tmp / "nginx.conf"), "-p", str(tmp)]
    done = subprocess.run([*base, "-g", "daemon on;"], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"nginx did not start: {done.stderr}")
    try:
        yield tmp
    finally:
        subprocess.run([*base, "-s", "quit"], capture_output=True, timeout=30)
        pid_file = tmp / "nginx.pid"
        for _ in range(100):
            if not pid_file.exists():
                break
            time.sleep(0.05)
