"""Render cache for anonymous GET pages: in-process LRU with TTL, or Redis (PORTAL_CACHE_URL=redis://...).

It runs as WSGI middleware in front of Flask, so a hit costs a URL match, the site token (cached per process
for at most CACHE_VERSION_TTL seconds) and a dictionary lookup: no session, no user, no template. Entries are
keyed by (scheme, host, path and query with names sorted but the values of a repeated name in their order,
site token): a publish bumps the token in the database, so every worker
and every server misses on its next request. Only GET/HEAD without a session or remember cookie, for an
allowlist of endpoints, status 200, no Set-Cookie and a `public` Cache-Control are kept. A text page is kept
gzip-compressed as well and served so to clients that accept gzip (`Vary: Accept-Encoding`): nginx in front
stores both forms (deploy/nginx.conf) and never compresses a cached page itself.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from werkzeug.exceptions import HTTPException
from werkzeug.http import is_resource_modified, parse_accept_header, parse_date, parse_etags, unquote_etag

# endpoint -> (normal TTL setting, crisis TTL setting); None: not cached in that mode.
POLICIES: dict[str, tuple[str | None, str | None]] = {
    "public.home": ("CACHE_TTL", "CACHE_TTL"),
    "public.page": ("CACHE_TTL", "CACHE_TTL"),
    "questions.board_page": ("CACHE_TTL", "CACHE_TTL"),
    "questions.detail": ("CACHE_TTL", "CACHE_TTL"),
    "incidents.index": ("CACHE_TTL", "CACHE_TTL"),
    "incidents.detail": ("CACHE_TTL", "CACHE_TTL"),
    # Search results follow the index, which the indexer updates just after the commit; statistics count
    # received questions, which do not bump the version: both are kept briefly, and longer in crisis mode.
    "search.search_page": ("CACHE_SEARCH_TTL", "CACHE_CRISIS_TTL"),
    "stats.stats_page": ("CACHE_STATS_TTL", "CACHE_CRISIS_TTL"),
}
# Feeds keep their own ETag/Last-Modified/Cache-Control (views/feeds.py); their bodies are cached here too.
# Every feed is here, the press room's and its calendar too: a feed left out is served uncompressed and uncached.
FEEDS = ("feeds.bulletins_rss", "feeds.bulletins_atom", "feeds.incident_rss", "feeds.incident_atom",
         "feeds.answers_atom", "news.feed_rss", "news.feed_atom", "news.type_feed_rss", "news.type_feed_atom",
         "news.conferences_ics")
for _name in FEEDS:
    POLICIES[_name] = ("CACHE_TTL", "CACHE_TTL")


# Text responses this long or longer are also kept gzip-compressed (nginx's gzip_min_length in deploy/nginx.conf).
GZIP_MIN_LENGTH = 512
GZIP_LEVEL = 6


def compressible(headers) -> bool:
    """HTML, feeds and other text: worth compressing (images and PDFs are not on the allowlist anyway)."""
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "").split(";")[0].strip().lower()
    return content_type.startswith("text/") or content_type.endswith(("+xml", "/xml", "/json"))


def gzip_body(body: bytes) -> bytes:
    """Deterministic gzip (no file name, no time): every worker and server makes the same bytes."""
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


@functools.lru_cache(maxsize=256)  # browsers send a handful of distinct values; this runs on every hit
def accepts_gzip(accept_encoding: str) -> bool:
    """Whether the client takes gzip (RFC 9110 12.5.3: `gzip;q=0` refuses it; `*` admits it)."""
    if "gzip" not in accept_encoding and "*" not in accept_encoding:
        return False
    accept = parse_accept_header(accept_encoding)
    return accept.quality("gzip") > 0 or (accept.quality("*") > 0 and "gzip" not in accept)


@dataclass
class Entry:
    """A stored response; `gz` is its body gzip-compressed, for clients that accept it (None: not worth it)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    gz: bytes | None = None

    @classmethod
    def build(cls, status: int, headers, body: bytes) -> Entry:
        gz = gzip_body(body) if len(body) >= GZIP_MIN_LENGTH and compressible(headers) else None
        return cls(status, list(headers), body, gz)

    def dumps(self) -> bytes:
        meta = {"s": self.status, "h": self.headers, "g": len(self.gz) if self.gz is not None else None}
        return json.dumps(meta).encode() + b"\n" + self.body + (self.gz or b"")

    @classmethod
    def loads(cls, raw: bytes) -> Entry:
        head, _, rest = raw.partition(b"\n")
        meta = json.loads(head)
        size = meta.get("g")
        if size is None:
            return cls(meta["s"], [tuple(h) for h in meta["h"]], rest)
        return cls(meta["s"], [tuple(h) for h in meta["h"]], rest[: len(rest) - size], rest[len(rest) - size :])

    def response(self, gzipped: bool) -> tuple[list[tuple[str, str]], bytes]:
        """Headers and body for a client that does (or does not) take gzip."""
        if self.gz is None:
            return self.headers, self.body
        return self._packed if gzipped else self._plain

    @functools.cached_property
    def _plain(self) -> tuple[list[tuple[str, str]], bytes]:
        return self._form(False)

    @functools.cached_property
    def _packed(self) -> tuple[list[tuple[str, str]], bytes]:
        return self._form(True)

    def _form(self, gzipped: bool) -> tuple[list[tuple[str, str]], bytes]:
        headers = [(k, v) for k, v in self.headers if k.lower() not in ("content-length", "vary", "etag")]
        vary = [v for k, v in self.headers if k.lower() == "vary"]
        headers.append(("Vary", ", ".join([*vary, "Accept-Encoding"])))
        etag = next((v for k, v in self.headers if k.lower() == "etag"), None)
        if not gzipped:
            if etag:
                headers.append(("ETag", etag))
            headers.append(("Content-Length", str(len(self.body))))
            return headers, self.body
        if etag:
            # The same content in another coding: equal only by weak comparison (what nginx's gzip does too).
            headers.append(("ETag", etag if etag.startswith("W/") else "W/" + etag))
        headers += [("Content-Encoding", "gzip"), ("Content-Length", str(len(self.gz)))]
        return headers, self.gz


class MemoryStore:
    """Thread-safe LRU with a TTL per entry (one per worker process)."""

    def __init__(self, max_entries: int = 2000) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[str, tuple[float, Entry]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Entry | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if item[0] < time.monotonic():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return item[1]

    def set(self, key: str, entry: Entry, ttl: float) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + ttl, entry)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class RedisStore:
    """Entries in Redis, shared by every worker and server; errors degrade to a miss (logged by the caller)."""

    def __init__(self, url: str, prefix: str = "portal:page:") -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.prefix = prefix

    def get(self, key: str) -> Entry | None:
        raw = self.client.get(self.prefix + key)
        return Entry.loads(raw) if raw is not None else None

    def set(self, key: str, entry: Entry, ttl: float) -> None:
        self.client.set(self.prefix + key, entry.dumps(), px=max(1, int(ttl * 1000)))

    def clear(self) -> None:
        for key in self.client.scan_iter(self.prefix + "*"):
            self.client.delete(key)


class NullStore:
    """No render cache (conditional GET and headers still apply)."""

    def get(self, key: str) -> Entry | None:
        return None

    def set(self, key: str, entry: Entry, ttl: float) -> None:
        pass

    def clear(self) -> None:
        pass


def make_store(url: str, max_entries: int):
    """memory (default), none, or redis://..."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(url)
    if url in ("none", "null", "off"):
        return NullStore()
    return MemoryStore(max_entries)


def path_key(path: str, query: str) -> str:
    """Path plus the query sorted by name, so ?a=1&b=2 and ?b=2&a=1 share an entry; the values of a repeated name
    keep their order (a stable sort on the name only), because views read them in that order (getlist)."""
    pairs = sorted(parse_qsl(query, keep_blank_values=True), key=lambda pair: pair[0])
    return path + ("?" + urlencode(pairs) if pairs else "")


def origin_key(environ) -> str:
    """The scheme and host a response may depend on (absolute links), as the views see them (after ProxyFix)."""
    return environ.get("wsgi.url_scheme", "http") + "://" + environ.get("HTTP_HOST", environ.get("SERVER_NAME", ""))


def page_etag(token_key: str, path_qs: str, build: str, origin: str = "") -> str:
    """The ETag of an anonymous page: the content token, the scheme and host, the URL and the code/template build."""
    return 'W/"' + hashlib.sha256(f"{token_key}|{origin}|{path_qs}|{build}".encode()).hexdigest()[:24] + '"'


def has_private_cookie(cookie_header: str, names: tuple[str, ...]) -> bool:
    """True when the request carries a session or remember-me cookie (staff, or a citizen mid-form)."""
    if not cookie_header:
        return False
    if not any(name in cookie_header for name in names):
        return False
    try:
        jar = SimpleCookie()
        jar.load(cookie_header)
    except Exception:  # noqa: BLE001 - a malformed header: treat as private, let Flask deal with it
        return True
    return any(name in jar for name in names)


def _matches(if_none_match: str, etag: str) -> bool:
    if not if_none_match:
        return False
    etags = parse_etags(if_none_match)
    return etags.star_tag or etags.contains_weak(etag.removeprefix("W/").strip('"'))


class RenderCache:
    """WSGI middleware: 304 before rendering, cached bodies for anonymous GETs of allowlisted endpoints."""

    def __init__(self, app, reader, store) -> None:
        self.flask_app = app
        self.wsgi_app = app.wsgi_app
        self.reader = reader
        self.store = store
        self.cookie_names = (app.config.get("SESSION_COOKIE_NAME", "session"),
                             app.config.get("REMEMBER_COOKIE_NAME", "remember_token"))
        # Set by portal/pagetree.py when the worker writes pages as files: called with the endpoint and the path of
        # each anonymous page asked of the app, so that the worker writes the files nginx did not have.
        self.fill = None
        self.hits = 0
        self.misses = 0
        # Single flight per key in this process: after a publish, one thread renders, the others wait for it.
        self._flights: dict[str, threading.Lock] = {}
        self._flights_lock = threading.Lock()

    def policy_ttl(self, endpoint: str, crisis: bool) -> float | None:
        policy = POLICIES.get(endpoint)
        if policy is None:
            return None
        setting = policy[1] if crisis else policy[0]
        if setting is None:
            return None
        ttl = float(self.flask_app.config[setting])
        return ttl if ttl > 0 else None

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD") or has_private_cookie(environ.get("HTTP_COOKIE", ""), self.cookie_names):
            return self.wsgi_app(environ, start_response)
        try:
            endpoint, _args = self.flask_app.url_map.bind_to_environ(environ).match()
        except HTTPException:
            return self.wsgi_app(environ, start_response)
        except Exception:  # noqa: BLE001 - a redirect or an odd request: let Flask answer it
            return self.wsgi_app(environ, start_response)
        if endpoint not in POLICIES:
            return self.wsgi_app(environ, start_response)
        if self.fill is not None and method == "GET" and not environ.get("QUERY_STRING"):
            try:
                self.fill(endpoint, environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8"))
            except Exception:  # noqa: BLE001 - never fail a reader's request for the tree's sake
                self.flask_app.logger.exception("render cache: could not note a page to write")
        try:
            token = self.reader.get()
        except Exception:  # noqa: BLE001 - database unavailable: Flask renders its error page
            self.flask_app.logger.exception("render cache: site token unavailable")
            return self.wsgi_app(environ, start_response)
        ttl = self.policy_ttl(endpoint, token.crisis_mode)
        path_qs = path_key(environ.get("PATH_INFO", "/"), environ.get("QUERY_STRING", ""))
        inm = environ.get("HTTP_IF_NONE_MATCH", "")
        if endpoint not in FEEDS:
            etag = page_etag(token.key, path_qs, self.flask_app.config["CACHE_BUILD"], origin_key(environ))
            if _matches(inm, etag):
                return self._not_modified(start_response, etag, token)
        if ttl is None:
            return self.wsgi_app(environ, start_response)
        key = f"{token.key}|{origin_key(environ)}|{path_qs}"
        try:
            entry = self.store.get(key)
        except Exception:  # noqa: BLE001 - Redis down: serve uncached
            self.flask_app.logger.exception("render cache: get failed")
            entry = None
        if entry is not None:
            self.hits += 1
            return self._serve(environ, start_response, entry, method, hit=True)
        if method == "GET":
            with self._flights_lock:
                flight = self._flights.setdefault(key, threading.Lock())
            if flight.acquire(timeout=10):
                try:
                    entry = self._safe_get(key)
                    if entry is None:
                        self.misses += 1
                        return self._render_and_store(environ, start_response, key, ttl, method)
                finally:
                    flight.release()
                    with self._flights_lock:
                        self._flights.pop(key, None)
                self.hits += 1
                return self._serve(environ, start_response, entry, method, hit=True)
        self.misses += 1
        return self._render_and_store(environ, start_response, key, ttl, method)

    def _safe_get(self, key: str) -> Entry | None:
        try:
            return self.store.get(key)
        except Exception:  # noqa: BLE001
            return None

    def _serve(self, environ, start_response, entry: Entry, method: str, hit: bool):
        """A stored page, gzip-compressed when the client takes it; 304 when the client's copy is current."""
        gzipped = entry.gz is not None and accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        headers, body = entry.response(gzipped)
        if hit:
            etag = next((v for k, v in headers if k.lower() == "etag"), "")
            date = next((v for k, v in headers if k.lower() == "last-modified"), None)
            if etag and not is_resource_modified(environ, etag=unquote_etag(etag)[0], last_modified=parse_date(date)):
                return self._not_modified(start_response, etag, None, headers)
            headers = [*headers, ("X-Render-Cache", "hit")]
        else:
            headers = list(headers)  # the stored lists are shared by every later hit: hand the server a copy
        start_response(f"{entry.status} OK", headers)
        return [b""] if method == "HEAD" else [body]

    def _not_modified(self, start_response, etag: str, token, headers=None):
        keep = {"cache-control", "vary", "last-modified", "link"}
        extra = [(k, v) for k, v in (headers or []) if k.lower() in keep]
        if headers is None:
            extra = [("Cache-Control", self.flask_app.config["PAGE_CACHE_CONTROL_CRISIS" if token.crisis_mode
                                                              else "PAGE_CACHE_CONTROL"]),
                     ("Vary", "Cookie, Accept-Encoding")]
        start_response("304 Not Modified", [("ETag", etag), *extra])
        return [b""]

    def _render_and_store(self, environ, start_response, key: str, ttl: float, method: str):
        captured: dict = {}
        written: list[bytes] = []

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"], captured["exc_info"] = status, headers, exc_info
            return written.append

        result = self.wsgi_app(environ, capture)
        try:
            body = b"".join([*written, *result])
        finally:
            if hasattr(result, "close"):
                result.close()
        status = captured.get("status", "500 INTERNAL SERVER ERROR")
        headers = captured.get("headers", [])
        if method == "GET" and status.startswith("200") and self._storable(headers):
            entry = Entry.build(200, headers, body)
            try:
                self.store.set(key, entry, ttl)
            except Exception:  # noqa: BLE001
                self.flask_app.logger.exception("render cache: set failed")
            return self._serve(environ, start_response, entry, method, hit=False)
        start_response(status, headers, captured.get("exc_info"))
        return [body]

    @staticmethod
    def _storable(headers) -> bool:
        cache_control = ""
        for name, value in headers:
            low = name.lower()
            if low == "set-cookie":
                return False
            if low == "cache-control":
                cache_control = value.lower()
        return "public" in cache_control and "no-store" not in cache_control and "private" not in cache_control
