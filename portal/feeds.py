"""RSS 2.0 and Atom builders (feedgen) for bulletins and published answers.

Ids are tag: URIs (RFC 4151) built from row ids, so they never change when a host name or a title does.
A correction keeps the entry's id and moves its <updated> (Atom) and <pubDate> (RSS) to the correction time,
so readers see it again; its title starts with 【更正】 and the change note is in the content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from feedgen.feed import FeedGenerator

from portal.markup import render_markdown
from portal.models import Question, Update
from portal.text import xml_safe
from portal.timeutil import to_beijing

TAG_YEAR = "2026"
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"


@dataclass
class FeedItem:
    """One entry, independent of the format."""

    id: str
    title: str
    link: str
    html: str
    published: datetime
    updated: datetime
    author: str


@dataclass
class FeedMeta:
    """The feed itself."""

    id: str
    title: str
    subtitle: str
    self_url: str
    alternate_url: str
    updated: datetime
    author: str
    hub: str = ""


def tag_uri(authority: str, path: str) -> str:
    """A stable id: tag:<authority>,2026:<path>."""
    return f"tag:{authority},{TAG_YEAR}:{path}"


def _fmt(value: datetime | None) -> str:
    return f"{to_beijing(value):%Y-%m-%d %H:%M}" if value else ""


def update_html(update: Update) -> str:
    """The entry content: press details, the current text, the public correction notes, a withdrawal notice."""
    parts = []
    if update.withdrawn_at is not None:
        parts.append(render_markdown(
            f"**本条通报已于 {_fmt(update.withdrawn_at)} 撤回。** 撤回原因：{update.withdrawn_reason or ''}"
        ))
    if update.is_press:
        if update.conference is not None and update.conference.cancelled_at is not None:
            parts.append(render_markdown(f"**发布会已取消**（{_fmt(update.conference.cancelled_at)}）。"))
        lines = [f"- 发布会时间：{_fmt(update.press_at)}（北京时间）", f"- 地点：{update.press_place or ''}"]
        if update.livestream_url:
            lines.append(f"- 直播：<{update.livestream_url}>")
        parts.append(render_markdown("\n".join(lines)))
    parts.append(update.body_html)
    for edition in update.corrections:
        parts.append(render_markdown(f"**更正**（{_fmt(edition.created_at)}）：{edition.change_note}"))
    parts.append(render_markdown(f"发布：{update.author_title}"))
    return "\n".join(parts)


def update_title(update: Update, with_incident: bool) -> str:
    """Entry title: 【已撤回】/【更正】 prefixes make the change visible in a reader's list."""
    prefix = "【已撤回】" if update.withdrawn_at else ("【更正】" if update.edition > 1 else "")
    title = update.heading
    if with_incident and update.incident.title not in title:
        title = f"{update.incident.title}：{title}"
    return prefix + title


def update_items(
    updates: Iterable[Update], authority: str, link_for: Callable[[Update], str], with_incident: bool = True
) -> list[FeedItem]:
    """Feed items for updates (already in newest-first order)."""
    return [
        FeedItem(
            id=tag_uri(authority, f"bulletins/update/{u.id}"), title=update_title(u, with_incident),
            link=link_for(u), html=update_html(u), published=u.publish_at, updated=u.updated_at,
            author=u.author_title or "新闻发言人",
        )
        for u in updates
    ]


def answer_items(
    questions: Iterable[Question], authority: str, link_for: Callable[[Question], str], office_name: str
) -> list[FeedItem]:
    """Feed items for published answers: the question (escaped) and the reply (sanitised)."""
    items = []
    for q in questions:
        assert q.reply is not None and q.published_at is not None
        department = q.reply.answered_under if q.reply.department else office_name
        question_html = render_markdown("**网友留言：**") + render_markdown(_escape_md(q.body))
        reply_html = render_markdown(f"**{department}答复：**") + q.reply.body_html
        items.append(FeedItem(
            id=tag_uri(authority, f"questions/{q.number}"), title=q.title, link=link_for(q),
            html=question_html + reply_html, published=q.published_at,
            updated=max(q.published_at, q.reply.updated_at or q.published_at), author=department,
        ))
    return items


def _escape_md(text: str) -> str:
    """Citizen text is not Markdown: escape the characters Markdown and HTML would interpret."""
    out = []
    for ch in text:
        out.append("\\" + ch if ch in "\\`*_{}[]()#+-.!|>" else {"<": "&lt;", "&": "&amp;"}.get(ch, ch))
    return "".join(out)


def build(meta: FeedMeta, items: list[FeedItem], kind: str) -> bytes:
    """Serialise as 'rss' (RSS 2.0) or 'atom' (Atom 1.0), UTF-8, items in the given (newest-first) order.

    Every text goes through `xml_safe`: a row stored before the text door existed (a title with U+FFFF, say)
    loses the code points XML forbids instead of breaking the feed for everyone."""
    meta = replace(meta, title=xml_safe(meta.title), subtitle=xml_safe(meta.subtitle), author=xml_safe(meta.author))
    items = [replace(i, title=xml_safe(i.title), html=xml_safe(i.html), author=xml_safe(i.author)) for i in items]
    fg = FeedGenerator()
    fg.id(meta.id)
    fg.title(meta.title)
    fg.subtitle(meta.subtitle)
    fg.language("zh-CN")
    fg.author({"name": meta.author})
    fg.updated(meta.updated)
    fg.generator("portal", uri=None, version=None)
    fg.link(href=meta.self_url, rel="self", type=ATOM_TYPE.split(";")[0] if kind == "atom" else RSS_TYPE.split(";")[0])
    if meta.hub and kind == "atom":
        fg.link(href=meta.hub, rel="hub")
    # feedgen's RSS <link> is the last link added: the alternate (HTML page) goes last.
    fg.link(href=meta.alternate_url, rel="alternate", type="text/html")
    if kind == "rss":
        fg.lastBuildDate(meta.updated)
    for item in items:
        fe = fg.add_entry(order="append")
        fe.id(item.id)
        fe.guid(item.id, permalink=False)
        fe.title(item.title)
        fe.link(href=item.link, rel="alternate", type="text/html")
        fe.author({"name": item.author})
        if kind == "rss":
            fe.description(item.html)
            fe.pubDate(item.updated)
        else:
            fe.content(item.html, type="html")
            fe.published(item.published)
            fe.updated(item.updated)
    return fg.rss_str(pretty=True) if kind == "rss" else fg.atom_str(pretty=True)
