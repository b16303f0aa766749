"""Text from other sites: control characters out, HTML reduced to text, URLs without tracking, match folding."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import nh3

from portal import text as door

_BLOCK_END = re.compile(r"(?i)<\s*(br\s*/?|/p|/div|/blockquote|/li|/tr|/h[1-6])\s*>")
_SPACES = re.compile(r"[ \t\u3000\u2002\u2003\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
TRACKING_PARAMS = frozenset({
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id", "spm", "from", "fbclid",
    "gclid", "share_token", "share_source", "share_medium", "isappinstalled", "scene", "wfr", "sharer", "ref",
})
KEY_MAX = 400


def clean_field(value: str | None) -> tuple[str, bool]:
    """The door's clean-up (portal.text.clean) for fetched text; returns the text and whether anything was removed."""
    if not value:
        return "", False
    cleaned = door.clean(value)
    return cleaned, cleaned != unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))


def one_line(value: str | None, limit: int = 500) -> str:
    """A clean single-line field (titles, authors), white space folded, cut at `limit` characters."""
    text, _ = clean_field(html.unescape(value or ""))
    text = " ".join(text.split())
    return text[:limit]


def html_to_text(markup: str | None, limit: int) -> tuple[str, bool]:
    """HTML reduced to plain text (scripts and styles dropped with their content), cut at `limit` characters."""
    if not markup:
        return "", False
    marked = _BLOCK_END.sub("\n", markup)
    text = html.unescape(nh3.clean(marked, tags=set(), strip_comments=True))
    text, _ = clean_field(text)
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", "\n".join(line.strip() for line in text.split("\n"))).strip()
    if len(text) > limit:
        return text[:limit], True
    return text, False


def url_key(url: str | None) -> str | None:
    """The URL without tracking parameters and fragment, scheme and host lower-cased: one story, one key."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in TRACKING_PARAMS]
    key = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), ""))
    return clip_key(key)


def clip_key(key: str) -> str:
    """Keys longer than the column are replaced by their hash (still unique, still stable)."""
    if len(key) <= KEY_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def content_hash(title: str, text: str) -> str:
    """A hash of the title and text with white space removed."""
    folded = "".join((title + "\n" + text).split())
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """Text as the matcher sees it: width folded (NFKC), lower case, Traditional characters as Simplified."""
    if not text:
        return ""
    return _t2s().convert(unicodedata.normalize("NFKC", text).lower())
