"""A local feed server for the watch tests: ETag/304, 429 with Retry-After, errors, a JSON webhook that records posts."""

from __future__ import annotations

import hashlib
import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FeedServer:
    """Serves `routes` (path -> (status, content type, body, extra headers)); counts requests per path."""

    def __init__(self):
        self.routes: dict[str, tuple[int, str, bytes, dict[str, str]]] = {}
        self.hits: dict[str, dict[str, int]] = {}
        self.posts: list[dict] = []
        self.lock = threading.Lock()
        self.base = ""

    def feed(self, path: str, body: str | bytes, content_type: str = "application/rss+xml; charset=utf-8",
             status: int = 200, **headers: str) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = (status, content_type, data, headers)
        return self.base + path

    def count(self, path: str, key: str) -> int:
        return self.hits.get(path, {}).get(key, 0)


def _handler(server: FeedServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _hit(self, key: str) -> None:
            with server.lock:
                server.hits.setdefault(self.path, {}).setdefault(key, 0)
                server.hits[self.path][key] += 1

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            with server.lock:
                server.posts.append({"path": self.path, "json": json.loads(raw or b"{}")})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            self._hit("requests")
            route = server.routes.get(self.path)
            if route is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, ctype, body, headers = route
            etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
            if self.headers.get("If-None-Match"):
                self._hit("if_none_match")
            if self.headers.get("If-Modified-Since"):
                self._hit("if_modified_since")
            if status == 200 and self.headers.get("If-None-Match") == etag:
                self._hit("not_modified")
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            if status == 200:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", "Mon, 12 May 2025 02:15:07 GMT")
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def feed_server():
    """A FeedServer on a free port of 127.0.0.1, stopped afterwards."""
    server = FeedServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


def rss(title: str, items: list[dict], ttl: int | None = None) -> str:
    """An RSS 2.0 document; each item: title, link, description, optional guid, author, pubDate."""
    parts = [f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{title}</title>"
             "<link>http://bbs.example/</link><description>测试</description>"]
    if ttl:
        parts.append(f"<ttl>{ttl}</ttl>")
    for it in items:
        parts.append("<item>")
        for key in ("title", "link", "guid", "author", "pubDate"):
            if it.get(key):
                parts.append(f"<{key}>{it[key]}</{key}>")
        parts.append(f"<description><![CDATA[{it.get('description', '')}]]></description></item>")
    parts.append("</channel></rss>")
    return "".join(parts)
