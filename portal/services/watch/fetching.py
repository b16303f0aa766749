"""HTTP for feeds, as a good consumer: conditional GET, a size cap, timeouts, a per-host cap, bounded concurrency."""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from portal.services.watch.settings import WatchSettings

ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
          "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5")


@dataclass
class FetchRequest:
    """What to fetch and the validators kept from the last answer."""

    source_id: int
    url: str
    etag: str | None = None
    last_modified: str | None = None
    accept: str | None = None  # None: feeds


@dataclass
class FetchResult:
    """What came back (no body on 304 or errors), from where after redirects, and how long it took."""

    source_id: int
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    final_url: str = ""
    error: str = ""
    timed_out: bool = False
    duration_ms: int = 0


class TooLarge(Exception):
    """The body passed the size cap."""


async def _fetch_one(client: httpx.AsyncClient, req: FetchRequest, settings: WatchSettings,
                     limit: asyncio.Semaphore, hosts: dict[str, asyncio.Semaphore]) -> FetchResult:
    host = urlsplit(req.url).netloc.lower()
    per_host = hosts.setdefault(host, asyncio.Semaphore(settings.per_host))
    headers = {"Accept": req.accept} if req.accept else {}
    if req.etag:
        headers["If-None-Match"] = req.etag
    if req.last_modified:
        headers["If-Modified-Since"] = req.last_modified
    result = FetchResult(source_id=req.source_id, final_url=req.url)
    async with limit, per_host:
        started = time.perf_counter()
        try:
            async with client.stream("GET", req.url, headers=headers) as response:
                result.status = response.status_code
                result.headers = {k.lower(): v for k, v in response.headers.items()}
                result.final_url = str(response.url)
                if response.status_code == 200:
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > settings.max_bytes:
                        raise TooLarge
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > settings.max_bytes:
                            raise TooLarge
                        chunks.append(chunk)
                    result.body = b"".join(chunks)
        except TooLarge:
            result.error = f"内容超过上限 {settings.max_bytes // 1024} KiB，已放弃"
        except httpx.TimeoutException:
            result.error, result.timed_out = f"超时（{settings.timeout_seconds:g} 秒）", True
        except httpx.TooManyRedirects:
            result.error = "重定向次数过多"
        except (httpx.HTTPError, OSError, ValueError) as exc:
            result.error = f"连接失败：{type(exc).__name__} {str(exc)[:200]}"
        result.duration_ms = int((time.perf_counter() - started) * 1000)
    return result


async def _fetch_all(requests: list[FetchRequest], settings: WatchSettings) -> list[FetchResult]:
    limit = asyncio.Semaphore(settings.concurrency)
    hosts: dict[str, asyncio.Semaphore] = {}
    timeout = httpx.Timeout(settings.timeout_seconds)
    limits = httpx.Limits(max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency)
    async with httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=True, max_redirects=5,
                                 headers={"User-Agent": settings.user_agent, "Accept": ACCEPT}, trust_env=False) as c:
        return await asyncio.gather(*(_fetch_one(c, r, settings, limit, hosts) for r in requests))


def fetch_all(requests: list[FetchRequest], settings: WatchSettings) -> list[FetchResult]:
    """Fetch every request concurrently (bounded overall and per host); results in the same order."""
    if not requests:
        return []
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # the usual case: the worker, a command
        return asyncio.run(_fetch_all(requests, settings))
    # Called where an event loop already runs in this thread (Playwright's sync API keeps one running, for one):
    # asyncio.run refuses to nest, so the fetching gets a thread and a loop of its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _fetch_all(requests, settings)).result()


def retry_after_seconds(value: str | None, now: datetime) -> int | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, int((when - now).total_seconds()))


def freshness_seconds(headers: dict[str, str], now: datetime) -> int:
    """How long the server says its answer stays fresh (Cache-Control max-age, else Expires); 0 when it says nothing."""
    cache_control = headers.get("cache-control", "")
    for part in cache_control.split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() == "max-age" and value.strip().isdigit():
            return int(value.strip())
    if headers.get("expires"):
        seconds = retry_after_seconds(headers["expires"], now)
        return seconds or 0
    return 0
