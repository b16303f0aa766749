"""Feed items for press releases, built on portal.feeds (same ids, dates and correction rules as the bulletins)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from portal.feeds import FeedItem, _fmt, tag_uri
from portal.markup import render_markdown
from portal.models import Release


def release_html(release: Release, attachment_url: Callable[[object], str]) -> str:
    """Entry content: the rumour and the facts for a rebuttal, the text, attachments, public correction notes."""
    parts = []
    if release.is_rumour:
        parts.append(render_markdown("**网传说法（谣言）：**") + release.rumour_html)
        parts.append(render_markdown("**事实真相：**"))
    parts.append(release.body_html)
    if release.attachments:
        lines = [f"- [{a.filename}]({attachment_url(a)})" for a in release.attachments]
        parts.append(render_markdown("附件：\n\n" + "\n".join(lines)))
    for edition in release.corrections:
        parts.append(render_markdown(f"**更正**（{_fmt(edition.created_at)}）：{edition.change_note}"))
    parts.append(render_markdown(f"发布：{release.department.name if release.department else release.author_title}"))
    return "\n".join(parts)


def release_items(
    releases: Iterable[Release], authority: str, link_for: Callable[[Release], str],
    attachment_url: Callable[[object], str],
) -> list[FeedItem]:
    """Feed items for releases (newest issued first); a corrected one is re-issued with 【更正】."""
    return [
        FeedItem(
            id=tag_uri(authority, f"press/release/{r.id}"),
            title=("【更正】" if r.edition > 1 else "") + f"【{r.type_label}】{r.title}",
            link=link_for(r), html=release_html(r, attachment_url), published=r.publish_at, updated=r.updated_at,
            author=r.department.name if r.department else (r.author_title or "新闻发言人"),
        )
        for r in releases
    ]
