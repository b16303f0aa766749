"""The privacy promise in the logs, with the real nginx running deploy/nginx.conf: the everyday access log holds
client networks only (IPv4 /24, IPv6 /48) and no query strings; full addresses go only to the network log the law
requires, in a root-only folder, rotated by deploy/logrotate-portal and kept 186 days."""

from __future__ import annotations

import http.server
import importlib.util
import shutil
import stat
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import need_service
from server_helpers import ROOT, free_port

_spec = importlib.util.spec_from_file_location("nginx_local", ROOT / "bench" / "nginx_local.py")
nginx_local = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nginx_local)

# Test-only: let the request say which client it stands for (a deployment behind a CDN does the same with
# set_real_ip_from for the CDN's addresses). Everything else is deploy/nginx.conf as shipped.
AS_CLIENT = "    set_real_ip_from 127.0.0.1;\n    real_ip_header X-Test-Client;\n"

CLIENTS = {  # address as nginx sees it -> what the everyday log may keep
    "203.0.113.77": "203.0.113.0/24",  # the reported kind: an IPv4 visitor
    "2001:db8:abcd:12:3456::7": "2001:db8:abcd::/48",
    "::ffff:198.51.100.23": "198.51.100.0/24",  # an IPv4 visitor on an IPv6 socket
    "2001:db8::1": "2001:db8::/48",  # compressed forms: the zeros are implied, nothing beyond /48 leaks
    "2400:da00::dbf:0:100": "2400:da00::/48",
}
SECRET_QUERY = "number=2026112500017&code=6TJD-PLR3-QX8K"


class _Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def front(tmp_path):
    if nginx_local.binary() is None:
        need_service("nginx is not installed (apt-get install nginx)")
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    port = free_port()
    try:
        with nginx_local.running(tmp_path / "nginx", port, upstream.server_port, AS_CLIENT) as where:
            yield f"http://127.0.0.1:{port}", where
    finally:
        upstream.shutdown()
        thread.join(5)


def _get(url: str, client: str) -> None:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"X-Test-Client": client}), timeout=10) as r:
        assert r.status == 200


def _read(path: Path, lines: int = 1) -> str:
    """The log once it holds `lines` lines (nginx writes its buffer at least once a second)."""
    for _ in range(100):
        if path.exists() and path.read_text().count("\n") >= lines:
            break
        time.sleep(0.05)
    return path.read_text()


def test_everyday_log_keeps_networks_and_paths_only(front):
    url, where = front
    for client in CLIENTS:
        _get(f"{url}/track?{SECRET_QUERY}", client)
    everyday = _read(where / "log" / "portal" / "access.log", len(CLIENTS))
    netlog = _read(where / "log" / "portal-netlog" / "access.log", len(CLIENTS))
    assert len(everyday.splitlines()) == len(CLIENTS) == len(netlog.splitlines())
    for client, network in CLIENTS.items():
        assert network in everyday, (client, everyday)
        assert client not in everyday, client
        assert client in netlog, client  # the full address, for the legal duty only
    assert "3456" not in everyday and "100.23" not in everyday and "0:100" not in everyday
    assert "/track " in everyday and "code=" not in everyday and "6TJD" not in everyday
    assert "6TJD" not in netlog  # query strings are kept nowhere
    # Only root may open the folder holding full addresses.
    assert stat.S_IMODE((where / "log" / "portal-netlog").stat().st_mode) == 0o700


def test_logrotate_rotates_reopens_and_keeps_six_months(front, tmp_path):
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not Path(logrotate).exists():
        need_service("logrotate is not installed (apt-get install logrotate)")
    url, where = front
    _get(url + "/questions", "203.0.113.77")
    _read(where / "log" / "portal-netlog" / "access.log")  # written out (nginx buffers up to a second)
    shipped = (ROOT / "deploy" / "logrotate-portal").read_text()
    assert "rotate 186" in shipped and "maxage 186" in shipped and "create 0600 root root" in shipped
    config = tmp_path / "logrotate.conf"
    config.write_text(shipped.replace("/var/log/nginx/portal", str(where / "log" / "portal"))
                      .replace("/run/nginx.pid", str(where / "nginx.pid")))
    config.chmod(0o644)
    done = subprocess.run([logrotate, "-f", "-s", str(tmp_path / "state"), str(config)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    netlog = where / "log" / "portal-netlog" / "access.log"
    assert "203.0.113.77" in (where / "log" / "portal-netlog" / "access.log.1").read_text()
    assert stat.S_IMODE(netlog.stat().st_mode) == 0o600
    # nginx was told to reopen its logs: the next request lands in the new file.
    time.sleep(0.5)
    _get(url + "/questions", "198.51.100.23")
    assert "198.51.100.23" in _read(netlog)
    assert "198.51.100.0/24" in _read(where / "log" / "portal" / "access.log")
