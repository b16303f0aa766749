"""Markdown -> sanitised HTML: python-markdown renders, nh3 keeps only an allowlist. The only HTML maker."""

from __future__ import annotations

import functools
import html as html_lib
import re
import threading

import markdown
import nh3
from inscriptis import get_text
from inscriptis.model.config import ParserConfig
from markupsafe import Markup

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "u", "s", "del", "ins", "sub", "sup", "mark", "small",
    "blockquote", "code", "pre", "ul", "ol", "li", "dl", "dt", "dd",
    "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "caption", "abbr",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "th": {"align", "colspan", "rowspan"},
    "td": {"align", "colspan", "rowspan"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EXTENSIONS = ["extra", "sane_lists", "nl2br"]
_local = threading.local()


def _converter() -> markdown.Markdown:
    """One Markdown instance per thread, reset between uses (building one costs more than converting)."""
    md = getattr(_local, "md", None)
    if md is None:
        md = _local.md = markdown.Markdown(extensions=_EXTENSIONS, output_format="html")
    return md


def clean_text(text: str) -> str:
    """Drop NUL and other control characters (PostgreSQL refuses NUL) and normalise line ends."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


def _filter_attribute(tag: str, name: str, value: str) -> str | None:
    """Judge a link by its scheme after removing white space and control characters, as a browser might."""
    if name == "href":
        compact = _URL_NOISE.sub("", value)
        match = _SCHEME.match(compact)
        if match and match.group(1).lower() not in URL_SCHEMES:
            return None
        if not match and ":" in compact.split("/", 1)[0]:
            return None
    return value


def sanitise_html(html: str) -> str:
    """Keep only allowlisted tags, attributes and URL schemes; links get rel=nofollow noopener."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
        attribute_filter=_filter_attribute,
    )


def render_markdown(text: str) -> str:
    """Render Markdown to HTML that is safe to embed in a page or a feed."""
    md = _converter()
    try:
        html = md.convert(clean_text(text))
    finally:
        md.reset()
    # Headings inside a reply or page body start at h2: the page owns h1.
    html = re.sub(r"<(/?)h1(\s|>)", r"<\1h2\2", html)
    return sanitise_html(html)


def markdown_markup(text: str) -> Markup:
    """Jinja filter: rendered and sanitised Markdown, marked safe for the template."""
    return Markup(render_markdown(text or ""))  # nosec B704 - nh3-sanitised HTML


def plain_paragraphs(text: str) -> Markup:
    """Jinja filter: citizen text escaped, with paragraphs and line breaks kept."""
    escaped = Markup.escape(clean_text(text or "").strip())
    paragraphs = [p for p in re.split(r"\n\s*\n", str(escaped)) if p.strip()]
    # Every piece of text was escaped above; only <p> and <br> are added.
    return Markup("".join(f"<p>{p.strip().replace(chr(10), '<br>')}</p>" for p in paragraphs))  # nosec B704


_ANCHOR = re.compile(r'<a href="([^"]*)"[^>]*>(.*?)</a>', re.S)
_TEXT_URL = re.compile(r"https?://[^\s<>\"（）]+")
_TEXT_CONFIG = ParserConfig(display_links=False)


@functools.lru_cache(maxsize=256)
def markdown_to_text(text: str) -> str:
    """Markdown as clean plain text for a mail: rendered and sanitised first, then laid out as text by inscriptis
    (lists, tables, paragraphs), each link as 文字（网址）. Cached: one bulletin goes to thousands of subscribers."""

    def link(match: re.Match) -> str:
        href, label = match.group(1), match.group(2)
        return href if html_lib.unescape(nh3.clean(label, tags=set())) == html_lib.unescape(href) else \
            f"{label}（{href}）"

    laid_out = get_text(_ANCHOR.sub(link, render_markdown(text or "")), _TEXT_CONFIG)
    return "\n".join(line.rstrip() for line in laid_out.strip().splitlines())


def text_to_html(text: str) -> str:
    """Plain text as sanitised HTML for a mail's HTML part: escaped, web addresses made links, lines kept."""
    escaped = html_lib.escape(clean_text(text or "").strip(), quote=True)
    linked = _TEXT_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
    paragraphs = [p for p in re.split(r"\n\s*\n", linked) if p.strip()]
    return sanitise_html("".join(f"<p>{p.strip().replace(chr(10), '<br>')}</p>" for p in paragraphs))
