"""Press-room use cases: publishing and correcting releases, attachments, conferences, the spokesperson directory.

Every publishing change goes through one function here (a site-wide content version can be bumped in them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.errors import Forbidden, ValidationFailed
from portal.markup import clean_text, render_markdown
from portal.models import Attachment, Conference, Department, DirectoryEntry, Incident, Release, ReleaseEdition
from portal.models.press import RELEASE_TYPES, RUMOUR
from portal.models.staff import ROLE_ADMIN, StaffUser
from portal.services import audit, uploads
from portal.services.bulletins import (
    BODY_MAX,
    NOTE_MAX,
    PLACE_MAX,
    PUBLISHERS,
    SLUG_RE,
    TITLE_MAX,
    author_title_for,
    parse_time,
)
from portal.timeutil import to_beijing, utcnow

TOPIC_MAX = 20
TOPICS_MAX = 8
URL_RE = re.compile(r"^https?://[^\s<>\"']{1,490}$")
PHONE_RE = re.compile(r"^[0-9+()（） \-－转]{5,40}$")


def require_publisher(actor: StaffUser) -> None:
    """Only the spokesperson and the admin publish in the press room."""
    if actor.role not in PUBLISHERS:
        raise Forbidden("只有新闻发言人和系统管理员可以发布新闻。")


def parse_topics(text: str, reasons: dict[str, str]) -> str:
    """'a, b，c' -> ',a,b,c,' (the stored form, so a LIKE on ',tag,' finds one exact tag)."""
    tags = [t.strip() for t in re.split(r"[,，、;；\s]+", clean_text(text or "")) if t.strip()]
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
    if not title:
        reasons["title"] = "请填写标题。"
    elif len(title) > TITLE_MAX:
        reasons["title"] = f"标题不超过 {TITLE_MAX} 个字。"
    if not body:
        reasons["body"] = "请填写正文。" if kind != RUMOUR else "请填写事实真相（正文）。"
    elif len(body) > BODY_MAX:
        reasons["body"] = f"正文不超过 {BODY_MAX} 个字。"
    if kind == RUMOUR and not rumour:
        reasons["rumour"] = "辟谣稿请写明网传说法（谣言内容）。"
    elif len(rumour) > 2000:
        reasons["rumour"] = "网传说法不超过 2000 个字。"


def create_release(session: Session, actor: StaffUser, data: ReleaseInput, sign_with_name: bool = False) -> Release:
    """Publish a release now, or schedule it for `publish_at` (which must be in the future)."""
    require_publisher(actor)
    reasons: dict[str, str] = {}
    title = clean_text(data.title).strip()
    body = clean_text(data.body).strip()
    rumour = clean_text(data.rumour).strip() if data.type == RUMOUR else ""
    slug = clean_text(data.slug).strip().lower()
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
    reasons: dict[str, str] = {}
    title = clean_text(title).strip() or release.title
    body = clean_text(body).strip()
    rumour = clean_text(rumour).strip() if release.is_rumour else ""
    note = clean_text(change_note).strip()
    _check_text(title, body, rumour, release.type, reasons)
    if not note:
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
    caption = clean_text(caption or "").strip()
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


# ---- conferences ----------------------------------------------------------------------------------------


@dataclass
class ConferenceInput:
    """A press conference as typed in the console (Beijing times)."""

    title: str
    starts_at: str
    place: str
    duration_minutes: int = 60
    livestream_url: str = ""
    spokesperson: str = ""
    description: str = ""
    incident_slug: str = ""
    release_slug: str = ""
    external_id: str | None = None


def _conference_fields(session: Session, data: ConferenceInput) -> dict:
    reasons: dict[str, str] = {}
    title = clean_text(data.title).strip()
    place = clean_text(data.place).strip()
    stream = clean_text(data.livestream_url).strip()
    speaker = clean_text(data.spokesperson).strip()
    description = clean_text(data.description).strip()
    if not title or len(title) > TITLE_MAX:
        reasons["title"] = f"请填写发布会名称（不超过 {TITLE_MAX} 个字）。"
    if not place or len(place) > PLACE_MAX:
        reasons["place"] = f"请填写发布会地点（不超过 {PLACE_MAX} 个字）。"
    if stream and not URL_RE.match(stream):
        reasons["livestream_url"] = "直播链接应为 http:// 或 https:// 开头的网址。"
    if len(speaker) > 100:
        reasons["spokesperson"] = "发言人不超过 100 个字。"
    if len(description) > 5000:
        reasons["description"] = "说明不超过 5000 个字。"
    if not 10 <= int(data.duration_minutes or 0) <= 600:
        reasons["duration_minutes"] = "时长应在 10 到 600 分钟之间。"
    starts = parse_time(data.starts_at, "starts_at", "发布会时间", reasons)
    if starts is None and "starts_at" not in reasons:
        reasons["starts_at"] = "请填写发布会时间。"
    incident = release = None
    if data.incident_slug.strip():
        incident = session.scalar(select(Incident).where(Incident.slug == data.incident_slug.strip()))
        if incident is None:
            reasons["incident_slug"] = "没有找到这个事件。"
    if data.release_slug.strip():
        release = session.scalar(select(Release).where(Release.slug == data.release_slug.strip()))
        if release is None:
            reasons["release_slug"] = "没有找到这篇稿件。"
    if reasons:
        raise ValidationFailed(reasons)
    assert starts is not None
    return dict(
        title=title, place=place, livestream_url=stream or None, spokesperson=speaker, description_md=description,
        description_html=render_markdown(description), starts_at=starts,
        ends_at=starts + timedelta(minutes=int(data.duration_minutes)), incident=incident, release=release,
    )


def create_conference(session: Session, actor: StaffUser, data: ConferenceInput) -> Conference:
    """Announce a press conference on the calendar."""
    require_publisher(actor)
    now = utcnow()
    conference = Conference(**_conference_fields(session, data), created_at=now, updated_at=now,
                            external_id=data.external_id)
    session.add(conference)
    session.flush()
    audit.record(session, actor, "conference.created", "conference", conference.id,
                 starts_at=conference.starts_at.isoformat())
    session.commit()
    return conference


def update_conference(session: Session, actor: StaffUser, conference: Conference, data: ConferenceInput) -> Conference:
    """Change a conference (time, place …); calendars pick it up by its SEQUENCE."""
    require_publisher(actor)
    for name, value in _conference_fields(session, data).items():
        setattr(conference, name, value)
    conference.sequence += 1
    conference.updated_at = utcnow()
    audit.record(session, actor, "conference.updated", "conference", conference.id, sequence=conference.sequence)
    session.commit()
    return conference


def cancel_conference(session: Session, actor: StaffUser, conference: Conference) -> Conference:
    """Cancel: it stays on the calendar marked 已取消 (STATUS:CANCELLED in the iCalendar feed)."""
    require_publisher(actor)
    if conference.cancelled_at is None:
        conference.cancelled_at = utcnow()
        conference.sequence += 1
        conference.updated_at = conference.cancelled_at
        audit.record(session, actor, "conference.cancelled", "conference", conference.id)
        session.commit()
    return conference


# ---- the spokesperson directory (admin) -----------------------------------------------------------------


@dataclass
class DirectoryInput:
    """One directory row."""

    department_id: int | None
    name: str
    role: str
    office_phone: str
    duty_hours: str = ""
    sort_order: int = 0


def _require_admin(actor: StaffUser) -> None:
    if actor.role != ROLE_ADMIN:
        raise Forbidden("只有系统管理员可以维护发言人名录。")


def save_directory_entry(
    session: Session, actor: StaffUser, data: DirectoryInput, entry: DirectoryEntry | None = None
) -> DirectoryEntry:
    """Add a directory row, or change `entry`."""
    _require_admin(actor)
    reasons: dict[str, str] = {}
    department = session.get(Department, data.department_id) if data.department_id else None
    if department is None:
        reasons["department_id"] = "请选择部门。"
    name, role = clean_text(data.name).strip(), clean_text(data.role).strip()
    phone, hours = clean_text(data.office_phone).strip(), clean_text(data.duty_hours).strip()
    if not name or len(name) > 50:
        reasons["name"] = "请填写姓名（不超过 50 个字）。"
    if not role or len(role) > 100:
        reasons["role"] = "请填写职务（不超过 100 个字）。"
    if not PHONE_RE.match(phone):
        reasons["office_phone"] = "请填写办公电话，例如 0571-12345678。"
    if len(hours) > 100:
        reasons["duty_hours"] = "值班时间不超过 100 个字。"
    if reasons:
        raise ValidationFailed(reasons)
    entry = entry or DirectoryEntry()
    entry.department, entry.name, entry.role = department, name, role
    entry.office_phone, entry.duty_hours, entry.sort_order = phone, hours, int(data.sort_order or 0)
    entry.updated_at = utcnow()
    session.add(entry)
    session.flush()
    audit.record(session, actor, "directory.saved", "directory", entry.id, name=name, phone=phone)
    session.commit()
    return entry


def delete_directory_entry(session: Session, actor: StaffUser, entry: DirectoryEntry) -> None:
    """Remove a directory row (the audit log keeps who and when)."""
    _require_admin(actor)
    audit.record(session, actor, "directory.deleted", "directory", entry.id, name=entry.name)
    session.delete(entry)
    session.commit()
