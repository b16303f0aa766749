"""Web pages found by hand: decoding (meta charset, gb2312 as GB18030), title and main text, a text snapshot."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import lxml.html
from cssselect import GenericTranslator, SelectorError
from lxml import etree

from portal.services.watch.parsing import NotAFeed, decode
from portal.services.watch.textclean import clean_field, html_to_text, one_line

_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=", re.I)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_BLANK_LINES = re.compile(r"\n\s*\n+")
HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")
ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
SELECTOR_MAX = 200


class NotAPage(Exception):
    """The body is no readable web page (another content type, an empty page, an undecodable one)."""


@dataclass
class Extracted:
    """What a page says: title, main text (by the source's selector or trafilatura), author, date, the snapshot."""

    title: str
    text: str
    text_truncated: bool
    snapshot: str
    author: str = ""
    published_at: datetime | None = None
    warnings: list[str] = field(default_factory=list)


def check_selector(selector: str) -> str | None:
    """A Chinese message when the CSS selector cannot be used, else None."""
    if len(selector) > SELECTOR_MAX:
        return f"正文选择器不能超过 {SELECTOR_MAX} 个字符。"
    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError:
        return "正文选择器不是有效的 CSS 选择器，例如 #zoom 或 td.content。"
    return None


def decode_page(body: bytes, content_type: str) -> tuple[str, list[str]]:
    """Bytes to text: the header's charset, else the page's <meta> charset, else UTF-8; detected when wrong."""
    if not _HEADER_CHARSET.search(content_type or ""):
        match = _META_CHARSET.search(body[:4096])
        if match:
            content_type = f"text/html; charset={match.group(1).decode('ascii')}"
    try:
        return decode(body, content_type)
    except NotAFeed as exc:
        raise NotAPage(str(exc)) from None


def _by_selector(tree, selector: str, limit: int) -> str:
    parts = []
    for element in tree.cssselect(selector):
        text, _ = html_to_text(etree.tostring(element, encoding="unicode", method="html"), limit)
        if text:
            parts.append(text)
    return "\n\n".join(parts)


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value[:10]).replace(tzinfo=UTC)
    except ValueError:
        return None


def extract(body: bytes, content_type: str, url: str, selector: str, limit: int) -> Extracted:
    """Title and main text of a fetched page; the source's CSS selector, when set and found, picks the text."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in HTML_TYPES:
        raise NotAPage(f"不是网页（内容类型 {media}）")
    markup, warnings = decode_page(body, content_type)
    if not markup.strip():
        raise NotAPage("页面是空的")
    import trafilatura  # imported here: the web app never needs it, only the worker

    snapshot, _ = html_to_text(markup, limit)
    doc = None
    try:
        doc = trafilatura.bare_extraction(markup, url=url or None, with_metadata=True, include_comments=False,
                                          include_tables=True)
    except Exception as exc:  # a page trafilatura cannot read still gives its snapshot
        logging.getLogger("portal.watch").warning("trafilatura failed on %s: %s", url, exc)
        warnings.append("通用正文提取失败")
    text = ""
    if selector:
        try:
            tree = lxml.html.fromstring(markup)
        except (etree.ParserError, ValueError):
            tree = None
        text = _by_selector(tree, selector, limit) if tree is not None else ""
        if not text:
            warnings.append(f"正文选择器 {selector} 没有找到内容，已改用通用提取")
    if not text and doc is not None and doc.text:
        text = _BLANK_LINES.sub("\n\n", clean_field(doc.text)[0]).strip()
    title = one_line(doc.title if doc is not None else "")
    if not title:
        found = _TITLE.search(markup)
        title = one_line(found.group(1) if found else "")
    if not title and not text:
        raise NotAPage("页面没有可提取的标题或正文")
    cut = len(text) >= limit
    return Extracted(title=title, text=text[:limit], text_truncated=cut, snapshot=snapshot,
                     author=one_line(doc.author if doc is not None else "", 200),
                     published_at=_date(doc.date if doc is not None else None), warnings=warnings)
