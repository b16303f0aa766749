"""Configuration: defaults, then PORTAL_* / DATABASE_URL environment, then the instance folder."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

# Values that must never sign sessions outside debug/testing: they are public.
KNOWN_DEFAULT_SECRETS = frozenset({"", "dev", "development", "secret", "changeme", "change-me", "test"})


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe or unusable; the message says what to do."""


DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": None,
    "SQLALCHEMY_DATABASE_URI": None,
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "SEARCH_INDEX_DIR": None,
    # whoosh (embedded, one index per server) or postgres (shared by every app server; needs DATABASE_URL on it)
    "SEARCH_BACKEND": "whoosh",
    # The background worker (`flask worker`) drains the search outbox; true adds the older indexer thread in each
    # web worker as well (kept for sites that do not run the worker yet).
    "SEARCH_INDEXER_THREAD": False,
    "SITE_NAME": "云溪县网上留言与信息发布平台",
    "OFFICE_NAME": "云溪县人民政府办公室",
    "TIMEZONE": "Asia/Shanghai",
    # Citizens' questions: at most this many from one client address in one hour (kept in the database).
    "ASK_QUOTA_PER_HOUR": 5,
    # The poster fingerprint key rotates this often (hours), so fingerprints cannot be linked for long.
    "FINGERPRINT_ROTATION_HOURS": 24,
    # Optional contact details are anonymised this many days after a question is closed.
    "CONTACT_RETENTION_DAYS": 180,
    # Same-day clock: received before this hour on a working day -> due the same day at DUE_SAME_DAY_HOUR,
    # else the next working day at DUE_NEXT_DAY_HOUR (Beijing time).
    "DUE_CUTOFF_HOUR": 16,
    "DUE_SAME_DAY_HOUR": 18,
    "DUE_NEXT_DAY_HOUR": 12,
    "DUE_SOON_HOURS": 2,
    # Review before publication (审核): a responder's reply goes to the office, which publishes or returns it.
    "REPLY_REVIEW": True,
    # Holidays and make-up workdays (调休上班) for the clock; None: content/calendar.txt.
    "CALENDAR_FILE": None,
    # The ledger's exports stop after this many rows (a huge range streams, and is cut here with a note).
    "EXPORT_MAX_ROWS": 100000,
    # Exports of more rows than this run in the background (a thread in the worker) with a progress page;
    # smaller ones stream at once. The finished files live in EXPORT_DIR (None: instance/exports; with several
    # servers, a folder they share) and are deleted after EXPORT_KEEP_HOURS.
    "EXPORT_BACKGROUND_ROWS": 2000,
    "EXPORT_DIR": None,
    "EXPORT_KEEP_HOURS": 24,
    # Roles that must pass a TOTP second factor after their password.
    "TOTP_ROLES": ("admin", "spokesperson"),
    "TOTP_ISSUER": "云溪县网上留言平台",
    # Fernet keys for the stored TOTP secrets, newest first (PORTAL_TOTP_KEYS, comma-separated); a key derived from
    # SECRET_KEY is always tried last, and is the only one when this is empty. `flask totp-keys --help`.
    "TOTP_KEYS": (),
    "RATELIMIT_TOTP": "10 per minute",
    "BOARD_PAGE_SIZE": 20,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCK_MINUTES": 15,
    # Flask-Limiter: memory:// counts per worker; use redis://... when several workers or servers serve.
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    "RATELIMIT_ASK": "20 per hour",
    "RATELIMIT_TRACK": "30 per minute",
    "RATELIMIT_LOGIN": "10 per minute",
    # Per address: a county's citizens behind one carrier NAT share one (README, Search: rate limit).
    "RATELIMIT_SEARCH": "600 per minute",
    "RATELIMIT_REPORT": "10 per hour",
    # A published item is hidden pending review after this many reports from distinct clients.
    "REPORT_HIDE_THRESHOLD": 3,
    # true only behind deploy/nginx.conf, which then adds the constant security headers (CSP, nosniff,
    # X-Frame-Options, Referrer-Policy) itself; the app leaves them off its responses.
    "SECURITY_HEADERS_AT_EDGE": False,
    # Number of proxies in front (nginx = 1) whose X-Forwarded-For may be trusted.
    "PROXY_COUNT": 0,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "MAX_FORM_PARTS": 200,
    "WTF_CSRF_TIME_LIMIT": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 8 * 3600,
    "SQLITE_SYNCHRONOUS": "FULL",
    # Optional cap on the SQLite file's size in pages (0: none); bench/faults.py uses it to fill the "disk".
    "SQLITE_MAX_PAGE_COUNT": 0,
    # argon2id cost: the library defaults (OWASP: >= 19 MiB, t >= 2); tests lower them for speed.
    "ARGON2_TIME_COST": 3,
    "ARGON2_MEMORY_KIB": 65536,
    "ARGON2_PARALLELISM": 4,
    # Bulletins: sign updates with the role title only (新闻发言人), or also the author's display name.
    "BULLETIN_SIGN_WITH_NAME": False,
    # The site's public address (scheme, host, optional path prefix): every absolute URL that leaves the site (mail,
    # List-Unsubscribe, WebSub topics and pings, feed self links, the calendar, the API) is built from it, never
    # from the Host header. Required outside debug/testing (the server refuses to start without it).
    "BASE_URL": "",
    # The background worker (portal/jobs.py, `flask worker`): its queue. "" = a SQLite file in the instance
    # folder (one server); "redis://host:6379/2" for several servers; "memory://" keeps it in the process (tests).
    "WORKER_URL": "",
    # Worker threads in `flask worker`, and the longest pause between two looks at an empty queue (seconds).
    "WORKER_THREADS": 2,
    "WORKER_POLL_MAX_SECONDS": 1.0,
    # Deliveries (portal/services/ops/delivery.py): rows claimed per batch (= at most this many sent twice when a
    # worker is killed mid-batch), attempts before giving up, the backoff base and cap, the lease after which a
    # dead worker's in-flight rows are queued again, and the bounces in a row that suspend a subscription.
    "DELIVERY_BATCH": 50,
    "DELIVERY_MAX_ATTEMPTS": 8,
    "DELIVERY_RETRY_SECONDS": 30,
    "DELIVERY_RETRY_CAP_SECONDS": 3600,
    "DELIVERY_LEASE_SECONDS": 300,
    "SUBSCRIPTION_MAX_BOUNCES": 3,
    # The relay takes addresses with non-ASCII local parts (SMTPUTF8). Off: such addresses are refused on the form.
    "SMTP_UTF8": False,
    # Authority of the feeds' tag: URIs (RFC 4151); keep it once feeds are public, ids must never change.
    "FEED_TAG_AUTHORITY": "yunxi.example",
    "FEED_MAX_AGE": 0,
    # How long a shared cache (nginx) may keep a feed: readers revalidate every poll, nginx asks once a second.
    "FEED_SHARED_MAX_AGE": 1,
    "FEED_ITEMS": 50,
    # WebSub hub: when set, feeds advertise it and publishing pings it.
    "WEBSUB_HUB": "",
    # Outgoing mail (subscriptions, departments' notices): empty host = mail off (logged, kept pending;
    # notices still show on screen).
    "SMTP_HOST": "",
    "SMTP_PORT": 25,
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_FROM": "noreply@yunxi.example",
    "SMTP_STARTTLS": False,
    "SMTP_TIMEOUT": 10,
    # Press-release attachments: stored outside the static folder (None: instance/uploads); the upload route
    # alone accepts bodies this large, the rest of the site keeps MAX_CONTENT_LENGTH.
    "UPLOAD_DIR": None,
    "UPLOAD_MAX_BYTES": 10 * 1024 * 1024,
    # Longest side of the phone rendition of an uploaded image.
    "UPLOAD_RENDITION_PX": 800,
    # Render cache for anonymous pages (portal/cache.py): "" = in-process LRU, "redis://host:6379/0" = shared
    # by every worker and server, "none" = off (conditional GET still answered).
    "CACHE_URL": "",
    "CACHE_MAX_ENTRIES": 2000,
    # Lifetime of a cached page; correctness does not depend on it (entries are keyed by the content version).
    "CACHE_TTL": 300,
    "CACHE_SEARCH_TTL": 10,
    "CACHE_STATS_TTL": 60,
    # In crisis mode /search and /stats are served from the cache this long (they are the costly pages).
    "CACHE_CRISIS_TTL": 300,
    # How long a worker reuses the content version it read (seconds): the bound on "visible on the next
    # request" for other workers and servers (the worker that published sees it at once). 0: every request.
    "CACHE_VERSION_TTL": 0.5,
    # Cache-Control of anonymous pages. Browsers keep a page 10 s; shared caches (nginx in front) 1 s
    # (s-maxage), so a new bulletin shows through nginx within about a second while nginx still answers
    # nearly every request itself: it asks the app again at most once a second per page, and a 304 when
    # nothing changed.
    # The same in both modes by default: a page in the static tree (portal/pagetree.py) carries one Cache-Control,
    # nginx's; with a different crisis value, crisis-mode pages are left to the app and its proxy cache.
    "PAGE_CACHE_CONTROL": "public, max-age=10, s-maxage=1, stale-while-revalidate=60, stale-if-error=600",
    "PAGE_CACHE_CONTROL_CRISIS": "public, max-age=10, s-maxage=1, stale-while-revalidate=60, stale-if-error=600",
    # The static tree (portal/pagetree.py): the folder where `flask worker` writes the anonymous pages as files for
    # nginx to serve (deploy/nginx.conf); "" = off. One per server, on local disk, readable by nginx. The worker
    # looks for changed pages every POLL seconds; every SWEEP seconds it checks the busiest pages again, and up to
    # SWEEP_PAGES other files, oldest check first.
    "PAGE_TREE_DIR": "",
    "PAGE_TREE_POLL_SECONDS": 0.1,
    "PAGE_TREE_SWEEP_SECONDS": 60,
    "PAGE_TREE_SWEEP_PAGES": 500,
    # Watching other platforms (舆情监测): fetch interval (per-source override, adaptive within the bounds),
    # politeness, caps, near-duplicate threshold, default alert channels (Apprise URLs), patrol digest times.
    "WATCH_INTERVAL_MINUTES": 10,
    "WATCH_MIN_INTERVAL_MINUTES": 5,
    "WATCH_MAX_INTERVAL_MINUTES": 360,
    "WATCH_CONCURRENCY": 20,
    "WATCH_PER_HOST": 2,
    "WATCH_TIMEOUT_SECONDS": 20.0,
    "WATCH_MAX_BYTES": 8 * 1024 * 1024,
    "WATCH_TEXT_MAX_CHARS": 256 * 1024,
    "WATCH_RETRY_AFTER_CAP_SECONDS": 86400,
    "WATCH_PAUSE_AFTER_FAILURES": 20,
    "WATCH_CLUSTER_THRESHOLD": 0.3,
    "WATCH_ALERT_URLS": "",
    "WATCH_DIGEST_TIMES": "08:30,14:30",
    "WATCH_DIGEST_MIN_INTERVAL_MINUTES": 60,
    # The yearly assessment (年度考核): weights of in time, well received, kept from escalating; the scores at
    # which a department is 优秀 / 良好 / 合格; the credit of the office's grades 好 / 一般 / 差 of watched answers.
    "ASSESS_WEIGHTS": "40,30,30",
    "ASSESS_LEVELS": "90,80,60",
    "ASSESS_GRADE_CREDIT": "1,0.5,0",
    # Part of every page ETag: change it (or let it default to the code and templates' fingerprint) on deploy.
    "CACHE_BUILD": "",
}

# Environment variables read on top of the defaults: PORTAL_<NAME> -> <NAME>, parsed by type of the default.
_ENV_TYPED = {
    "SITE_NAME": str,
    "OFFICE_NAME": str,
    "SEARCH_BACKEND": str,
    "SEARCH_INDEXER_THREAD": bool,
    "ASK_QUOTA_PER_HOUR": int,
    "FINGERPRINT_ROTATION_HOURS": int,
    "CONTACT_RETENTION_DAYS": int,
    "DUE_CUTOFF_HOUR": int,
    "DUE_SAME_DAY_HOUR": int,
    "DUE_NEXT_DAY_HOUR": int,
    "DUE_SOON_HOURS": int,
    "REPLY_REVIEW": bool,
    "CALENDAR_FILE": str,
    "SMTP_HOST": str,
    "SMTP_PORT": int,
    "SMTP_USER": str,
    "SMTP_PASSWORD": str,
    "SMTP_FROM": str,
    "SMTP_STARTTLS": bool,
    "SMTP_TIMEOUT": int,
    "EXPORT_MAX_ROWS": int,
    "EXPORT_BACKGROUND_ROWS": int,
    "EXPORT_DIR": str,
    "EXPORT_KEEP_HOURS": int,
    "RATELIMIT_TOTP": str,
    "BOARD_PAGE_SIZE": int,
    "LOGIN_MAX_FAILURES": int,
    "LOGIN_LOCK_MINUTES": int,
    "RATELIMIT_STORAGE_URI": str,
    "RATELIMIT_ASK": str,
    "RATELIMIT_TRACK": str,
    "RATELIMIT_LOGIN": str,
    "RATELIMIT_SEARCH": str,
    "RATELIMIT_REPORT": str,
    "REPORT_HIDE_THRESHOLD": int,
    "PROXY_COUNT": int,
    "MAX_CONTENT_LENGTH": int,
    "SESSION_COOKIE_SECURE": bool,
    "SQLITE_SYNCHRONOUS": str,
    "SQLITE_MAX_PAGE_COUNT": int,
    "ARGON2_TIME_COST": int,
    "ARGON2_MEMORY_KIB": int,
    "ARGON2_PARALLELISM": int,
    "BULLETIN_SIGN_WITH_NAME": bool,
    "BASE_URL": str,
    "WORKER_URL": str,
    "WORKER_THREADS": int,
    "WORKER_POLL_MAX_SECONDS": float,
    "DELIVERY_BATCH": int,
    "DELIVERY_MAX_ATTEMPTS": int,
    "DELIVERY_RETRY_SECONDS": float,
    "DELIVERY_RETRY_CAP_SECONDS": float,
    "DELIVERY_LEASE_SECONDS": float,
    "SUBSCRIPTION_MAX_BOUNCES": int,
    "SMTP_UTF8": bool,
    "FEED_TAG_AUTHORITY": str,
    "FEED_MAX_AGE": int,
    "FEED_SHARED_MAX_AGE": int,
    "SECURITY_HEADERS_AT_EDGE": bool,
    "FEED_ITEMS": int,
    "WEBSUB_HUB": str,
    "UPLOAD_DIR": str,
    "UPLOAD_MAX_BYTES": int,
    "UPLOAD_RENDITION_PX": int,
    "CACHE_URL": str,
    "CACHE_MAX_ENTRIES": int,
    "CACHE_TTL": int,
    "CACHE_SEARCH_TTL": int,
    "CACHE_STATS_TTL": int,
    "CACHE_CRISIS_TTL": int,
    "CACHE_VERSION_TTL": float,
    "PAGE_CACHE_CONTROL": str,
    "PAGE_CACHE_CONTROL_CRISIS": str,
    "CACHE_BUILD": str,
    "PAGE_TREE_DIR": str,
    "PAGE_TREE_POLL_SECONDS": float,
    "PAGE_TREE_SWEEP_SECONDS": float,
    "PAGE_TREE_SWEEP_PAGES": int,
    "WATCH_INTERVAL_MINUTES": int,
    "WATCH_MIN_INTERVAL_MINUTES": int,
    "WATCH_MAX_INTERVAL_MINUTES": int,
    "WATCH_CONCURRENCY": int,
    "WATCH_PER_HOST": int,
    "WATCH_TIMEOUT_SECONDS": float,
    "WATCH_MAX_BYTES": int,
    "WATCH_TEXT_MAX_CHARS": int,
    "WATCH_RETRY_AFTER_CAP_SECONDS": int,
    "WATCH_PAUSE_AFTER_FAILURES": int,
    "WATCH_CLUSTER_THRESHOLD": float,
    "WATCH_ALERT_URLS": str,
    "WATCH_DIGEST_TIMES": str,
    "WATCH_DIGEST_MIN_INTERVAL_MINUTES": int,
    "ASSESS_WEIGHTS": str,
    "ASSESS_LEVELS": str,
    "ASSESS_GRADE_CREDIT": str,
}


def _parse_bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def from_environment(environ: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    """Read DATABASE_URL, PORTAL_SECRET_KEY, PORTAL_SEARCH_INDEX_DIR and the typed PORTAL_* settings."""
    out: dict[str, Any] = {}
    if environ.get("DATABASE_URL"):
        out["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(environ["DATABASE_URL"])
    if "PORTAL_SECRET_KEY" in environ:
        out["SECRET_KEY"] = environ["PORTAL_SECRET_KEY"]
    if environ.get("PORTAL_SEARCH_INDEX_DIR"):
        out["SEARCH_INDEX_DIR"] = environ["PORTAL_SEARCH_INDEX_DIR"]
    if environ.get("PORTAL_TOTP_KEYS", "").strip():
        out["TOTP_KEYS"] = _fernet_keys(environ["PORTAL_TOTP_KEYS"])
    for name, kind in _ENV_TYPED.items():
        raw = environ.get(f"PORTAL_{name}")
        if raw is None:
            continue
        try:
            out[name] = _parse_bool(raw) if kind is bool else kind(raw)
        except ValueError as exc:
            raise ConfigError(f"PORTAL_{name}={raw!r} is not a valid {kind.__name__}") from exc
    return out


def _fernet_keys(raw: str) -> tuple[str, ...]:
    """Comma-separated Fernet keys (urlsafe base64 of 32 bytes), refused at start-up when malformed."""
    import base64
    import binascii

    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for key in keys:
        try:
            ok = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            raise ConfigError("PORTAL_TOTP_KEYS holds a value that is not a Fernet key (`flask totp-keys new`)")
    return keys


def normalise_database_url(url: str) -> str:
    """Accept the usual postgres:// spellings and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def ensure_secret_key(config: dict[str, Any], instance_path: str, relaxed: bool) -> None:
    """Refuse a known default key outside debug/testing; create a random one in the instance folder if none."""
    key = config.get("SECRET_KEY")
    if key is None:
        key_file = Path(instance_path) / "secret_key"
        if key_file.exists():
            key = key_file.read_text().strip()
        else:
            key = secrets.token_urlsafe(48)
            key_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(key + "\n")
        config["SECRET_KEY"] = key
    if not relaxed and (str(key) in KNOWN_DEFAULT_SECRETS or len(str(key)) < 16):
        raise ConfigError(
            "PORTAL_SECRET_KEY is a known default or shorter than 16 characters; refusing to start. "
            "Set PORTAL_SECRET_KEY to a long random value, or unset it to have one generated in the "
            "instance folder."
        )


def ensure_base_url(config: dict[str, Any], relaxed: bool) -> None:
    """Refuse to start outside debug/testing without PORTAL_BASE_URL (links would follow the Host header)."""
    from urllib.parse import urlsplit

    base = str(config.get("BASE_URL") or "").strip().rstrip("/")
    if not base:
        if relaxed:
            return  # debug/testing: links fall back to http://localhost (portal/urls.py)
        raise ConfigError(
                "PORTAL_BASE_URL is not set; refusing to start. Every link in mails, feeds, pings and the API is built "
                "from it, never from the request's Host header. Set it to the site's public address, e.g. "
                "PORTAL_BASE_URL=https://www.yunxi.gov.cn (make run sets http://127.0.0.1:$PORT)."
        )
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"PORTAL_BASE_URL={base!r} must be an http(s) address such as https://www.yunxi.gov.cn")
    config["BASE_URL"] = base
