"""Bulletin use cases: incidents, posting, scheduling, correcting and withdrawing updates, the crisis banner."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import Forbidden, InvalidTransition, ValidationFailed
from portal.markup import render_markdown
from portal.models import Conference, Incident, Question, StaffUser, Update, UpdateEdition
from portal.models.bulletin import INCIDENT_STATUSES, KIND_PRESS, KIND_UPDATE, SEVERITIES, UPDATE_KINDS
from portal.models.question import PUBLISHED
from portal.models.staff import ROLE_ADMIN, ROLE_SPOKESPERSON
from portal.services import audit
from portal.timeutil import parse_local, to_beijing, utcnow

PUBLISHERS = (ROLE_SPOKESPERSON, ROLE_ADMIN)
TITLE_MAX = 200
SUMMARY_MAX = 5000
BODY_MAX = 20000
NOTE_MAX = 500
PLACE_MAX = 200
URL_MAX = 500
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")


def require_publisher(actor: StaffUser) -> None:
    """Only the spokesperson and the admin publish bulletins."""
    if actor.role not in PUBLISHERS:
        raise Forbidden("只有新闻发言人和系统管理员可以发布通报。")


def parse_time(text: str | None, field_name: str, label: str, reasons: dict[str, str]) -> datetime | None:
    """A form time (ISO 8601 / datetime-local; no offset = Beijing time) as aware UTC; records a reason if bad."""
    text = door.fold_width(text)  # "２０２６－１１－２５　１４：３０" from a Chinese input method
    if not text:
        return None
    try:
        return parse_local(text)
    except ValueError:
        reasons[field_name] = f"{label}格式应为 2026-11-25 14:30 这样的“年-月-日 时:分”。"
        return None


def parse_next_update_due(text: str | None, reasons: dict[str, str], now: datetime) -> datetime | None:
    """The promised time of the next update: empty (no promise) or in the future, never already past."""
    due = parse_time(text, "next_update_due_at", "下次通报时间", reasons)
    if due is not None and due <= now:
        reasons["next_update_due_at"] = "下次通报时间已过，请填写将来的时间，或留空表示暂不承诺。"
        return None
    return due


def check_withdrawal_reason(reason: str | None) -> str:
    """The public reason for a withdrawal (bulletins and releases alike), cleaned; refused when empty or long."""
    reason = door.clean(reason or "").strip()
    if door.is_blank(reason):
        raise ValidationFailed({"reason": "请填写撤回原因，它会公开显示。"})
    if len(reason) > NOTE_MAX:
        raise ValidationFailed({"reason": f"撤回原因不超过 {NOTE_MAX} 个字。"})
    return reason


# ---- incidents ------------------------------------------------------------------------------------------


@dataclass
class IncidentInput:
    """What the spokesperson typed when opening an incident."""

    title: str
    severity: str
    started_at: str
    summary: str = ""
    slug: str = ""
    status: str = "ongoing"
    next_update_due_at: str = ""
    external_id: str | None = None


def unique_slug(session: Session, wanted: str, started_at: datetime) -> str:
    """`wanted` (or the Beijing start date) made unique with -2, -3 … when taken."""
    base = wanted or f"{to_beijing(started_at):%Y%m%d}"
    candidate, n = base, 1
    while session.scalar(select(Incident.id).where(Incident.slug == candidate)) is not None:
        n += 1
        candidate = f"{base[:55]}-{n}"
    return candidate


def create_incident(session: Session, actor: StaffUser, data: IncidentInput) -> Incident:
    """Open an incident; a slug that is taken gets a numbered suffix."""
    require_publisher(actor)
    reasons: dict[str, str] = {}
    title = door.clean(data.title).strip()
    summary = door.clean(data.summary).strip()
    slug = door.clean(data.slug).strip().lower()
    if door.is_blank(title):
        reasons["title"] = "请填写事件标题。"
    elif len(title) > TITLE_MAX:
        reasons["title"] = f"事件标题不超过 {TITLE_MAX} 个字。"
    if data.severity not in SEVERITIES:
        reasons["severity"] = "请选择事件级别。"
    if data.status not in INCIDENT_STATUSES:
        reasons["status"] = "请选择事件状态。"
    if slug and not SLUG_RE.match(slug):
        reasons["slug"] = "网址标识只能用小写字母、数字和连字符（-），不超过 60 个字符。"
    if len(summary) > SUMMARY_MAX:
        reasons["summary"] = f"事件概况不超过 {SUMMARY_MAX} 个字。"
    started = parse_time(data.started_at, "started_at", "发生时间", reasons)
    if started is None and "started_at" not in reasons:
        reasons["started_at"] = "请填写事件发生时间。"
    now = utcnow()
    due = parse_next_update_due(data.next_update_due_at, reasons, now)
    if reasons:
        raise ValidationFailed(reasons)
    assert started is not None
    incident = Incident(
        slug=unique_slug(session, slug, started), title=title, status=data.status, severity=data.severity,
        started_at=started, summary_md=summary, summary_html=render_markdown(summary), next_update_due_at=due,
        created_at=now, updated_at=now, external_id=data.external_id,
    )
    session.add(incident)
    session.flush()
    audit.record(session, actor, "incident.created", "incident", incident.id, slug=incident.slug, title=title)
    session.commit()
    return incident


def set_incident_status(
    session: Session, actor: StaffUser, incident: Incident, status: str, next_update_due_at: str
) -> Incident:
    """Change the status and the promised time of the next update."""
    require_publisher(actor)
    reasons: dict[str, str] = {}
    if status not in INCIDENT_STATUSES:
        reasons["status"] = "请选择事件状态。"
    due = parse_next_update_due(next_update_due_at, reasons, utcnow())
    if reasons:
        raise ValidationFailed(reasons)
    previous = incident.status
    incident.status = status
    incident.next_update_due_at = due
    incident.updated_at = utcnow()
    audit.record(
        session, actor, "incident.status", "incident", incident.id, status=status, previous=previous,
        next_update_due_at=due.isoformat() if due else None,
    )
    session.commit()
    return incident


def pin_incident(session: Session, actor: StaffUser, incident: Incident, pinned: bool) -> Incident:
    """Pin the incident as the crisis banner on every public page (one at a time), or unpin it."""
    require_publisher(actor)
    now = utcnow()
    if pinned:
        for other in session.scalars(select(Incident).where(Incident.pinned_at.is_not(None))):
            if other.id != incident.id:
                other.pinned_at = None
                other.updated_at = now
        incident.pinned_at = now
    else:
        incident.pinned_at = None
    incident.updated_at = now
    audit.record(session, actor, "incident.pinned" if pinned else "incident.unpinned", "incident", incident.id)
    session.commit()
    return incident


def pinned_incident(session: Session) -> Incident | None:
    """The incident shown as the crisis banner, if any."""
    return session.scalar(select(Incident).where(Incident.pinned_at.is_not(None)).order_by(Incident.pinned_at.desc()))


# ---- updates --------------------------------------------------------------------------------------------


@dataclass
class NewUpdate:
    """One update as typed in the console; `publish_at` empty means now."""

    body: str
    title: str = ""
    kind: str = "update"
    publish_at: str = ""
    press_at: str = ""
    press_place: str = ""
    livestream_url: str = ""
    question_numbers: list[str] = field(default_factory=list)


def _check_text(title: str, body: str, reasons: dict[str, str]) -> None:
    if door.is_blank(body):
        reasons["body"] = "请填写通报内容。"
    elif len(body) > BODY_MAX:
        reasons["body"] = f"通报内容不超过 {BODY_MAX} 个字。"
    if len(title) > TITLE_MAX:
        reasons["title"] = f"标题不超过 {TITLE_MAX} 个字。"


def _linked_questions(session: Session, numbers: list[str], reasons: dict[str, str]) -> list[Question]:
    wanted = [door.fold_width(n) for n in numbers if door.fold_width(n)]
    found: list[Question] = []
    missing = []
    for number in dict.fromkeys(wanted):
        q = session.scalar(select(Question).where(Question.number == number, Question.status == PUBLISHED))
        (found.append(q) if q is not None else missing.append(number))
    if missing:
        reasons["questions"] = f"没有找到已公开的留言：{'、'.join(missing[:10])}。"
    return found


def author_title_for(actor: StaffUser, sign_with_name: bool) -> str:
    """The signature on an update: the role title, plus the name only when configured."""
    name = actor.display_name or actor.username
    if sign_with_name and name != actor.role_title:
        return f"{actor.role_title} {name}"
    return actor.role_title


def post_update(
    session: Session, actor: StaffUser, incident: Incident, data: NewUpdate, sign_with_name: bool = False
) -> Update:
    """Publish an update now, or schedule it for `publish_at` (which must be in the future)."""
    require_publisher(actor)
    reasons: dict[str, str] = {}
    body = door.clean(data.body).strip()
    title = door.clean(data.title).strip()
    _check_text(title, body, reasons)
    if data.kind not in UPDATE_KINDS:
        reasons["kind"] = "请选择通报类型。"
    now = utcnow()
    publish_at = parse_time(data.publish_at, "publish_at", "定时发布时间", reasons)
    if publish_at is not None and publish_at <= now:
        reasons["publish_at"] = "定时发布时间已过，请选择将来的时间，或选择“立即发布”。"
    press_at = parse_time(data.press_at, "press_at", "发布会时间", reasons)
    place = door.clean(data.press_place).strip()
    stream = door.clean(data.livestream_url).strip()
    if data.kind == KIND_PRESS:
        if press_at is None and "press_at" not in reasons:
            reasons["press_at"] = "请填写发布会时间。"
        if door.is_blank(place):
            reasons["press_place"] = "请填写发布会地点。"
    if len(place) > PLACE_MAX:
        reasons["press_place"] = f"地点不超过 {PLACE_MAX} 个字。"
    if stream and (len(stream) > URL_MAX or not re.match(r"^https?://[^\s<>\"']+$", stream)):
        reasons["livestream_url"] = "直播链接应为 http:// 或 https:// 开头的网址。"
    questions = _linked_questions(session, data.question_numbers, reasons)
    if incident.status == "closed":
        reasons["incident"] = "事件已结束，不能再发布通报；如需发布，请先更改事件状态。"
    if reasons:
        raise ValidationFailed(reasons)
    # An empty title on a 情况通报 reads "<incident>（第N次通报）", N taken when it is published (models/bulletin.py).
    numbered = door.is_blank(title) and data.kind == KIND_UPDATE
    if door.is_blank(title):
        title = f"{incident.title}（{UPDATE_KINDS[data.kind]}）" if data.kind == KIND_PRESS else incident.title
    when = publish_at or now
    html = render_markdown(body)
    update = Update(
        incident=incident, kind=data.kind, title=title, body_md=body, body_html=html, author_id=actor.id,
        author_title=author_title_for(actor, sign_with_name), created_at=now, publish_at=when, updated_at=when,
        edition=1, press_at=press_at if data.kind == KIND_PRESS else None,
        press_place=place or None if data.kind == KIND_PRESS else None, livestream_url=stream or None,
        numbered=numbered,
    )
    update.questions = questions
    if data.kind == KIND_PRESS:
        assert press_at is not None
        # One system: the notice is the timeline's side of a conference on the press room's calendar.
        update.conference = Conference(
            title=title, starts_at=press_at, ends_at=press_at + timedelta(minutes=60), place=place,
            livestream_url=stream or None, description_md=body, description_html=html, incident=incident,
            created_at=now, updated_at=now,
        )
    session.add(update)
    session.flush()
    session.add(UpdateEdition(
        update_id=update.id, number=1, title=title, body_md=body, body_html=html, author_id=actor.id, created_at=now
    ))
    incident.updated_at = now
    audit.record(
        session, actor, "update.scheduled" if publish_at else "update.published", "update", update.id,
        incident=incident.slug, publish_at=when.isoformat(), questions=[q.number for q in questions],
    )
    session.commit()
    return update


def correct_update(
    session: Session, actor: StaffUser, update: Update, title: str, body: str, change_note: str
) -> Update:
    """A correction: a new edition with a public change note; feeds re-issue the entry (same id, new time)."""
    require_publisher(actor)
    if update.withdrawn_at is not None:
        raise InvalidTransition("这条通报已撤回，不能再更正。")
    reasons: dict[str, str] = {}
    body = door.clean(body).strip()
    title = door.clean(title).strip() or update.title
    note = door.clean(change_note).strip()
    _check_text(title, body, reasons)
    if door.is_blank(note):
        reasons["change_note"] = "请填写更正说明，它会公开显示在通报下方。"
    elif len(note) > NOTE_MAX:
        reasons["change_note"] = f"更正说明不超过 {NOTE_MAX} 个字。"
    if not reasons and body == update.body_md and title == update.title:
        reasons["body"] = "内容没有变化，无需更正。"
    if reasons:
        raise ValidationFailed(reasons)
    now = utcnow()
    html = render_markdown(body)
    update.edition += 1
    session.add(UpdateEdition(
        update_id=update.id, number=update.edition, title=title, body_md=body, body_html=html,
        change_note=note, author_id=actor.id, created_at=now,
    ))
    update.title, update.body_md, update.body_html = title, body, html
    # A scheduled update keeps its time; a published one is re-issued now.
    update.updated_at = max(now, update.publish_at)
    if update.is_visible(now):
        update.notified_at = None
    update.incident.updated_at = now
    audit.record(session, actor, "update.corrected", "update", update.id, edition=update.edition, note=note)
    session.commit()
    session.refresh(update)
    return update


def withdraw_update(session: Session, actor: StaffUser, update: Update, reason: str) -> Update:
    """Withdraw an update: it stays on the page, struck through, with the reason; nothing is deleted.

    A scheduled update withdrawn before its time is cancelled instead: it is never shown, fed or mailed. A press
    notice takes its conference with it (cancelled on the calendar, or never shown there).
    """
    require_publisher(actor)
    if update.withdrawn_at is not None:
        raise InvalidTransition("这条通报已经撤回。")
    reason = check_withdrawal_reason(reason)
    now = utcnow()
    cancelled = now < update.publish_at
    update.withdrawn_at = now
    update.withdrawn_reason = reason
    update.updated_at = max(now, update.publish_at)
    update.incident.updated_at = now
    if update.conference is not None and update.conference.cancelled_at is None:
        update.conference.cancelled_at = now
        update.conference.sequence += 1
        update.conference.updated_at = now
    audit.record(session, actor, "update.cancelled" if cancelled else "update.withdrawn", "update", update.id,
                 reason=reason)
    session.commit()
    return update
