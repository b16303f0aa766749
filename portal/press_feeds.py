"""Feed items for press releases, built on portal.feeds (same ids, dates and correction rules as the bulletins)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from portal.feeds import FeedItem, _fmt, tag_uri
from portal.markup import render_markdown
from portal.models import Release


def _signature(release: Release) -> str:
    return render_markdown(f"发布：{release.department.name if release.department else release.author_title}")


def release_html(release: Release, attachment_url: Callable[[object], str]) -> str:
    """Entry content: the rumour and the facts for a rebuttal, the text, attachments, public correction notes.

    A withdrawn release carries only the notice with its time and reason: its text is no longer published.
    """
    if release.withdrawn_at is not None:
        notice = render_markdown(
            f"**本稿件已于 {_fmt(release.withdrawn_at)} 撤回。** 撤回原因：{release.withdrawn_reason or ''}"
        )
        return "\n".join([notice, _signature(release)])
    parts = []
    if release.is_rumour:
        parts.append(render_markdown("**网传说法（谣言）：**") + release.rumour_html)
        parts.append(render_markdown("**事实真相：**"))
    parts.append(release.body_html)
    if release.current_attachments:
        lines = [f"- [{a.filename}]({attachment_url(a)})" for a in release.current_attachments]
        parts.append(render_markdown("附件：\n\n" + "\n".join(lines)))
    for edition in release.corrections:
        parts.append(render_markdown(f"**更正**（{_fmt(edition.created_at)}）：{edition.change_note}"))
    parts.append(_signature(release))
    return "\n".join(parts)


def release_title(release: Release) -> str:
    """Entry title: 【已撤回】/【更正】 make the change visible in a reader's list, then the type."""
    prefix = "【已撤回】" if release.withdrawn_at else ("【更正】" if release.edition > 1 else "")
    return f"{prefix}【{release.type_label}】{release.title}"


def release_items(
    releases: Iterable[Release], authority: str, link_for: Callable[[Release], str],
    attachment_url: Callable[[object], str],
) -> list[FeedItem]:
    """Feed items for releases (newest issued first); a corrected or withdrawn one is re-issued, marked."""
    return [
        FeedItem(
            id=tag_uri(authority, f"press/release/{r.id}"),
            title=release_title(r),
            link=link_for(r), html=release_html(r, attachment_url), published=r.publish_at, updated=r.updated_at,
            author=r.department.name if r.department else (r.author_title or "新闻发言人"),
        )
        for r in releases
    ]
