"""Press-room use cases for releases: publishing, correcting and withdrawing them, their attachments (conferences
and the directory: press_room.py).

Every publishing change goes through one function here (a site-wide content version can be bumped in them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import Forbidden, InvalidTransition, ValidationFailed
from portal.markup import render_markdown
from portal.models import Attachment, Department, Incident, Release, ReleaseEdition
from portal.models.press import RELEASE_TYPES, RUMOUR
from portal.models.staff import StaffUser
from portal.services import audit
from portal.services.bulletins.publishing import (
    BODY_MAX,
    NOTE_MAX,
    PUBLISHERS,
    SLUG_RE,
    TITLE_MAX,
    author_title_for,
    check_withdrawal_reason,
    parse_time,
)
from portal.services.press import uploads
from portal.timeutil import to_beijing, utcnow

TOPIC_MAX = 20
TOPICS_MAX = 8


def require_publisher(actor: StaffUser) -> None:
    """Only the spokesperson and the admin publish in the press room."""
    if actor.role not in PUBLISHERS:
        raise Forbidden("只有新闻发言人和系统管理员可以发布新闻。")


def parse_topics(text: str, reasons: dict[str, str]) -> str:
    """'a, b，c' -> ',a,b,c,' (the stored form, so a LIKE on ',tag,' finds one exact tag)."""
    tags = [t.strip() for t in re.split(r"[,，、;；\s]+", door.clean(text or "")) if t.strip()]
    tags = list(dict.fromkeys(tags))
    if len(tags) > TOPICS_MAX or any(len(t) > TOPIC_MAX for t in tags):
        reasons["topics"] = f"话题最多 {TOPICS_MAX} 个，每个不超过 {TOPIC_MAX} 个字。"
        return ""
    return "," + ",".join(tags) + "," if tags else ""


@dataclass
class ReleaseInput:
    """A release as typed in the console; `publish_at` empty means now."""

    title: str
    type: str
    body: str
    rumour: str = ""
    topics: str = ""
    department_id: int | None = None
    incident_slug: str = ""
    slug: str = ""
    publish_at: str = ""
    external_id: str | None = None


def _unique_slug(session: Session, wanted: str, when) -> str:
    base = wanted or f"{to_beijing(when):%Y%m%d}"
    candidate, n = base, 1
    while session.scalar(select(Release.id).where(Release.slug == candidate)) is not None:
        n += 1
        candidate = f"{base[:55]}-{n}"
    return candidate


def _check_text(title: str, body: str, rumour: str, kind: str, reasons: dict[str, str]) -> None:
    if door.is_blank(title):
        reasons["title"] = "请填写标题。"
    elif len(title) > TITLE_MAX:
        reasons["title"] = f"标题不超过 {TITLE_MAX} 个字。"
    if door.is_blank(body):
        reasons["body"] = "请填写正文。" if kind != RUMOUR else "请填写事实真相（正文）。"
    elif len(body) > BODY_MAX:
        reasons["body"] = f"正文不超过 {BODY_MAX} 个字。"
    if kind == RUMOUR and door.is_blank(rumour):
        reasons["rumour"] = "辟谣稿请写明网传说法（谣言内容）。"
    elif len(rumour) > 2000:
        reasons["rumour"] = "网传说法不超过 2000 个字。"


def create_release(session: Session, actor: StaffUser, data: ReleaseInput, sign_with_name: bool = False) -> Release:
    """Publish a release now, or schedule it for `publish_at` (which must be in the future)."""
    require_publisher(actor)
    reasons: dict[str, str] = {}
    title = door.clean(data.title).strip()
    body = door.clean(data.body).strip()
    rumour = door.clean(data.rumour).strip() if data.type == RUMOUR else ""
    slug = door.clean(data.slug).strip().lower()
    if data.type not in RELEASE_TYPES:
        reasons["type"] = "请选择稿件类型。"
    _check_text(title, body, rumour, data.type, reasons)
    topics = parse_topics(data.topics, reasons)
    if slug and not SLUG_RE.match(slug):
        reasons["slug"] = "网址标识只能用小写字母、数字和连字符（-），不超过 60 个字符。"
    department = session.get(Department, data.department_id) if data.department_id else None
    if data.department_id and department is None:
        reasons["department_id"] = "请选择发布部门。"
    incident = None
    if data.incident_slug.strip():
        incident = session.scalar(select(Incident).where(Incident.slug == data.incident_slug.strip()))
        if incident is None:
            reasons["incident_slug"] = "没有找到这个事件（请填写事件网址中的标识）。"
    now = utcnow()
    publish_at = parse_time(data.publish_at, "publish_at", "定时发布时间", reasons)
    if publish_at is not None and publish_at <= now:
        reasons["publish_at"] = "定时发布时间已过，请选择将来的时间，或选择“立即发布”。"
    if reasons:
        raise ValidationFailed(reasons)
    when = publish_at or now
    html = render_markdown(body)
    release = Release(
        slug=_unique_slug(session, slug, when), type=data.type, title=title, topics=topics,
        department=department, incident=incident, rumour_md=rumour, rumour_html=render_markdown(rumour),
        body_md=body, body_html=html, author_id=actor.id, author_title=author_title_for(actor, sign_with_name),
        created_at=now, publish_at=when, updated_at=when, edition=1, external_id=data.external_id,
    )
    session.add(release)
    session.flush()
    session.add(ReleaseEdition(release_id=release.id, number=1, title=title, rumour_md=rumour, body_md=body,
                               body_html=html, author_id=actor.id, created_at=now))
    audit.record(session, actor, "release.scheduled" if publish_at else "release.published", "release", release.id,
                 slug=release.slug, type=release.type, publish_at=when.isoformat())
    session.commit()
    return release


def correct_release(
    session: Session, actor: StaffUser, release: Release, title: str, body: str, rumour: str, change_note: str
) -> Release:
    """A correction: a new edition with a public change note; feeds re-issue the entry (same id, new time)."""
    require_publisher(actor)
    if release.withdrawn_at is not None:
        raise InvalidTransition("这篇稿件已撤回，不能再更正。")
    reasons: dict[str, str] = {}
    title = door.clean(title).strip() or release.title
    body = door.clean(body).strip()
    rumour = door.clean(rumour).strip() if release.is_rumour else ""
    note = door.clean(change_note).strip()
    _check_text(title, body, rumour, release.type, reasons)
    if door.is_blank(note):
        reasons["change_note"] = "请填写更正说明，它会公开显示在稿件下方。"
    elif len(note) > NOTE_MAX:
        reasons["change_note"] = f"更正说明不超过 {NOTE_MAX} 个字。"
    if not reasons and (title, body, rumour) == (release.title, release.body_md, release.rumour_md):
        reasons["body"] = "内容没有变化，无需更正。"
    if reasons:
        raise ValidationFailed(reasons)
    now = utcnow()
    html = render_markdown(body)
    release.edition += 1
    session.add(ReleaseEdition(release_id=release.id, number=release.edition, title=title, rumour_md=rumour,
                               body_md=body, body_html=html, change_note=note, author_id=actor.id, created_at=now))
    release.title, release.body_md, release.body_html = title, body, html
    release.rumour_md, release.rumour_html = rumour, render_markdown(rumour)
    release.updated_at = max(now, release.publish_at)
    if release.is_visible(now):
        release.notified_at = None  # announced again (mail marked 【更正】, hub ping) after the commit
    audit.record(session, actor, "release.corrected", "release", release.id, edition=release.edition, note=note)
    session.commit()
    session.refresh(release)
    return release


def add_attachment(
    session: Session, actor: StaffUser, release: Release, data: bytes, filename: str, caption: str,
    folder: str | Path, max_bytes: int, rendition_px: int = 800,
) -> Attachment:
    """Check, clean and store one file for a release; nothing is written when it is refused."""
    require_publisher(actor)
    if release.withdrawn_at is not None:
        raise InvalidTransition("这篇稿件已撤回，不能再添加附件。")
    caption = door.clean(caption or "").strip()
    if len(caption) > 200:
        raise ValidationFailed({"caption": "说明文字不超过 200 个字。"})
    stored = uploads.store(data, filename, folder, max_bytes, rendition_px)
    try:
        attachment = Attachment(
            release_id=release.id, kind=stored.kind, mime=stored.mime, filename=stored.filename,
            stored_name=stored.stored_name, rendition_name=stored.rendition_name, size=stored.size,
            width=stored.width, height=stored.height, sha256=stored.sha256, caption=caption, uploaded_by=actor.id,
        )
        session.add(attachment)
        release.updated_at = max(utcnow(), release.publish_at)
        session.flush()
        audit.record(session, actor, "release.attachment_added", "release", release.id, attachment=attachment.id,
                     filename=stored.filename, mime=stored.mime, size=stored.size)
        session.commit()
    except Exception:
        session.rollback()
        uploads.remove(folder, stored.stored_name, stored.rendition_name)
        raise
    return attachment


def withdraw_release(session: Session, actor: StaffUser, release: Release, reason: str) -> Release:
    """Withdraw a release: the page stays at its URL with 已撤回, the time and the public reason; nothing is deleted.

    Withdrawn before its scheduled time, it is cancelled: never shown, fed or mailed.

    The text stays in the database (and in its editions) but is no longer shown on the page, in the feeds or the
    API; the feeds re-issue the entry as 【已撤回】 (same id, new time), and its files answer 410.
    """
    require_publisher(actor)
    if release.withdrawn_at is not None:
        raise InvalidTransition("这篇稿件已经撤回。")
    reason = check_withdrawal_reason(reason)
    now = utcnow()
    cancelled = now < release.publish_at  # a scheduled release withdrawn before its time is never shown
    release.withdrawn_at = now
    release.withdrawn_reason = reason
    release.updated_at = max(now, release.publish_at)
    if not cancelled and release.is_visible(now):
        release.notified_at = None  # the worker pings the hub for the release feeds (no mail for a withdrawal)
    audit.record(session, actor, "release.cancelled" if cancelled else "release.withdrawn", "release", release.id,
                 slug=release.slug, reason=reason)
    session.commit()
    return release


def remove_attachment(session: Session, actor: StaffUser, attachment: Attachment, folder: str | Path) -> Attachment:
    """Remove one file from a release: the row stays (its URL answers 410 Gone); the stored files are deleted
    once the removal is committed (a failed commit leaves them in place)."""
    require_publisher(actor)
    if attachment.removed_at is not None:
        raise InvalidTransition("这个附件已经删除。")
    now = utcnow()
    release = attachment.release
    attachment.removed_at = now
    release.updated_at = max(now, release.publish_at)
    audit.record(session, actor, "release.attachment_removed", "release", release.id, attachment=attachment.id,
                 filename=attachment.filename, sha256=attachment.sha256)
    session.commit()
    uploads.remove(folder, attachment.stored_name, attachment.rendition_name)
    return attachment
