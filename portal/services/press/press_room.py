"""The press room's other use cases: press conferences (the calendar) and the spokesperson directory (admin)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import Forbidden, ValidationFailed
from portal.markup import render_markdown
from portal.models import Conference, Department, DirectoryEntry, Incident, Release
from portal.models.staff import ROLE_ADMIN, StaffUser
from portal.services import audit
from portal.services.bulletins.press_notices import add_conference_notice, follow_conference
from portal.services.bulletins.publishing import PLACE_MAX, TITLE_MAX, parse_time
from portal.services.press.newsroom import require_publisher
from portal.timeutil import utcnow

URL_RE = re.compile(r"^https?://[^\s<>\"']{1,490}$")
PHONE_RE = re.compile(r"^[0-9+()（） \-－转]{5,40}$")


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
    title = door.clean(data.title).strip()
    place = door.clean(data.place).strip()
    stream = door.clean(data.livestream_url).strip()
    speaker = door.clean(data.spokesperson).strip()
    description = door.clean(data.description).strip()
    if door.is_blank(title) or len(title) > TITLE_MAX:
        reasons["title"] = f"请填写发布会名称（不超过 {TITLE_MAX} 个字）。"
    if door.is_blank(place) or len(place) > PLACE_MAX:
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
    if conference.incident is not None:
        # One system: a conference of an incident is announced on its timeline too (新闻发布会预告).
        add_conference_notice(session, actor, conference, conference.description_md)
    audit.record(session, actor, "conference.created", "conference", conference.id,
                 starts_at=conference.starts_at.isoformat())
    session.commit()
    return conference


def update_conference(session: Session, actor: StaffUser, conference: Conference, data: ConferenceInput) -> Conference:
    """Change a conference (time, place …); calendars pick it up by its SEQUENCE."""
    require_publisher(actor)
    fields = _conference_fields(session, data)
    moved = fields["incident"] is not None and fields["incident"] is not conference.incident
    if conference.notices and moved:
        raise ValidationFailed(
            {"incident_slug": "这场发布会已在事件时间线上预告，不能改到其他事件；如需更改，请取消后重新安排。"}
        )
    changed = [name for name, value in fields.items() if getattr(conference, name) != value]
    for name, value in fields.items():
        setattr(conference, name, value)
    conference.sequence += 1
    conference.updated_at = utcnow()
    if conference.notices:
        follow_conference(conference)
    elif moved:
        add_conference_notice(session, actor, conference, conference.description_md)
    audit.record(session, actor, "conference.updated", "conference", conference.id, sequence=conference.sequence,
                 changed=changed)
    session.commit()
    return conference


def cancel_conference(session: Session, actor: StaffUser, conference: Conference) -> Conference:
    """Cancel: it stays on the calendar marked 已取消 (STATUS:CANCELLED in the iCalendar feed)."""
    require_publisher(actor)
    if conference.cancelled_at is None:
        conference.cancelled_at = utcnow()
        conference.sequence += 1
        conference.updated_at = conference.cancelled_at
        follow_conference(conference)
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
    name, role = door.clean(data.name).strip(), door.clean(data.role).strip()
    phone, hours = door.clean(data.office_phone).strip(), door.clean(data.duty_hours).strip()
    if door.is_blank(name) or len(name) > 50:
        reasons["name"] = "请填写姓名（不超过 50 个字）。"
    if door.is_blank(role) or len(role) > 100:
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
