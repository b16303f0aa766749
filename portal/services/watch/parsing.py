"""Feed bodies to entries: decoding (gb2312 read as GB18030, a cut tail dropped), RSS/Atom by feedparser, JSON Feed."""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin

import feedparser

from portal.services.watch.textclean import clean_field, html_to_text, one_line

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9_.:-]+)[\"']", re.I)
_XML_DECL_TEXT = re.compile(r"^(\s*<\?xml[^>]*encoding\s*=\s*[\"'])([A-Za-z0-9_.:-]+)([\"'])", re.I)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)
_CLOSED = re.compile(r"</(rss|feed|rdf:RDF|RDF)>\s*$", re.I)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
# Labels that mean "some superset of GB2312": sites that say gb2312 send GBK or GB18030.
_GB_LABELS = {"gb2312", "gbk", "x-gbk", "gb_2312-80", "csgb2312", "euc-cn", "cp936", "windows-936", "gb18030"}


class NotAFeed(Exception):
    """The body is not a feed (an HTML page, a login prompt, an empty or unreadable document)."""


@dataclass
class Entry:
    """One entry as read from a feed, before it is matched to stored items."""

    guid: str | None
    url: str
    title: str
    text: str
    text_truncated: bool
    author: str
    published_at: datetime | None


@dataclass
class ParsedFeed:
    """The entries of one document, what it said about polling (ttl), and what was odd about it."""

    entries: list[Entry]
    ttl_minutes: int | None = None
    warnings: list[str] = field(default_factory=list)


def _declared_charset(body: bytes, content_type: str) -> str | None:
    match = _CHARSET.search(content_type or "")
    if match:
        return match.group(1).lower()
    if body.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    match = _XML_DECL.match(body[:400])
    return match.group(1).decode("ascii").lower() if match else None


def decode(body: bytes, content_type: str) -> tuple[str, list[str]]:
    """Bytes to text: the declared charset (gb2312 as GB18030), a character cut at the end dropped, else detected."""
    warnings: list[str] = []
    charset = _declared_charset(body, content_type) or "utf-8"
    if charset in _GB_LABELS:
        charset = "gb18030"
    try:
        return body.decode(charset).lstrip("\ufeff"), warnings
    except LookupError:
        warnings.append(f"未知编码 {charset}，已自动识别")
    except UnicodeDecodeError as exc:
        if exc.start >= len(body) - 4:  # the download (or the file) ends inside a character
            warnings.append("文档末尾的字符不完整，已舍去")
            return body[: exc.start].decode(charset).lstrip("\ufeff"), warnings
        warnings.append(f"内容不是声明的 {charset} 编码，已自动识别")
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    if best is None:
        raise NotAFeed("无法识别文档的字符编码")
    return str(best), warnings


def _when(parsed) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _iso(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _absolute(base: str, value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    return urljoin(base, value) if value.startswith(("/", "./", "../")) else value


def parse_json_feed(text: str, base_url: str, text_limit: int) -> ParsedFeed:
    """A JSON Feed (1.0 or 1.1) document."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise NotAFeed(f"JSON 无法解析：{exc}") from None
    if not isinstance(doc, dict) or "jsonfeed.org" not in str(doc.get("version", "")):
        raise NotAFeed("不是 JSON Feed（缺少 version）")
    entries = []
    for item in doc.get("items") or []:
        if not isinstance(item, dict):
            continue
        url = _absolute(base_url, item.get("url") or item.get("external_url")) or ""
        body, cut = html_to_text(item.get("content_html") or item.get("content_text") or item.get("summary"),
                                 text_limit)
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        author = ", ".join(str(a.get("name", "")) for a in authors if isinstance(a, dict))
        entries.append(Entry(
            guid=_absolute(base_url, str(item["id"])) if item.get("id") not in (None, "") else None,
            url=url, title=one_line(item.get("title")), text=body, text_truncated=cut, author=one_line(author, 200),
            published_at=_iso(item.get("date_published")) or _iso(item.get("date_modified")),
        ))
    return ParsedFeed(entries)


def parse(body: bytes, content_type: str, base_url: str, text_limit: int) -> ParsedFeed:
    """Parse a fetched body; raises NotAFeed for what is no feed at all."""
    text, warnings = decode(body, content_type)
    stripped = text.lstrip()
    if "json" in (content_type or "").lower() or stripped.startswith("{"):
        parsed = parse_json_feed(stripped, base_url, text_limit)
        parsed.warnings[:0] = warnings
        return parsed
    # Hand feedparser text we decoded ourselves, labelled UTF-8 everywhere, so it never guesses again.
    utf8 = _XML_DECL_TEXT.sub(r"\g<1>utf-8\g<3>", text, count=1).encode("utf-8")
    doc = feedparser.parse(utf8, sanitize_html=False, resolve_relative_uris=False, response_headers={
        "content-type": "application/xml; charset=utf-8", "content-location": base_url,
    })
    if not doc.version:
        title = _HTML_TITLE.search(text)
        root = "<html>" if re.search(r"<html[\s>]", text[:2000], re.I) else "未知"
        hint = f"，页面标题“{one_line(title.group(1), 80)}”" if title else ""
        raise NotAFeed(f"不是订阅源：{content_type or '无类型'}，根元素 {root}{hint}")
    entries = list(doc.entries)
    if doc.bozo and not _CLOSED.search(text.rstrip()):
        warnings.append("文档被截断，只保存完整的条目")
        entries = entries[:-1]  # the last entry is the one the cut went through
    elif doc.bozo and not isinstance(doc.bozo_exception, feedparser.NonXMLContentType):
        warnings.append(f"文档不规范：{type(doc.bozo_exception).__name__}")
    ttl = None
    raw_ttl = doc.feed.get("ttl")
    if raw_ttl and str(raw_ttl).strip().isdigit():
        ttl = int(str(raw_ttl).strip())
    out = []
    for e in entries:
        raw_title = e.get("title") or ""
        title_clean, changed = clean_field(raw_title)
        if changed:
            warnings.append(f"标题含控制字符，已清除：{one_line(title_clean, 40)}")
        body_html = ""
        if e.get("content"):
            body_html = e["content"][0].get("value") or ""
        body_html = body_html or e.get("summary") or e.get("description") or ""
        body_text, cut = html_to_text(body_html, text_limit)
        link = _absolute(base_url, e.get("link")) or ""
        guid = _absolute(base_url, e.get("id")) if e.get("id") else None
        out.append(Entry(
            guid=guid, url=link, title=one_line(title_clean), text=body_text, text_truncated=cut,
            author=one_line(e.get("author"), 200),
            published_at=_when(e.get("published_parsed")) or _when(e.get("updated_parsed")),
        ))
    return ParsedFeed(out, ttl, warnings)
