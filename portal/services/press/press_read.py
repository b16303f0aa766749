"""Read-side queries for the press room: the release list, pages, feeds, the API, the calendar and the directory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal import text as door
from portal.errors import ValidationFailed
from portal.models import Attachment, Conference, Department, DirectoryEntry, Release
from portal.models.press import RELEASE_TYPES, public_conference, visible_release
from portal.services.bulletins.bulletin_read import ContentVersion, _aware, _version
from portal.services.bulletins.publishing import SLUG_RE
from portal.timeutil import month_range, parse_month, to_beijing, utcnow

PAGE_SIZE = 20


@dataclass
class ReleaseFilters:
    """The /news filters, already checked (unknown values are dropped, not errors)."""

    type: str = ""
    topic: str = ""
    month: str = ""  # YYYY-MM, Beijing time
    page: int = 1


def clean_filters(type_: str, topic: str, month: str, page: str) -> ReleaseFilters:
    """Filters from the query string: anything unknown or malformed is ignored."""
    try:
        number = max(1, min(int(page), 10000))
    except ValueError:
        number = 1
    topic = door.clean(topic or "").strip()
    return ReleaseFilters(
        type=type_ if type_ in RELEASE_TYPES else "",
        topic=topic[:20] if topic and "," not in topic else "",
        month=month if parse_month(month) else "",
        page=number,
    )


def strict_filters(type_: str, topic: str, month: str, page: str) -> ReleaseFilters:
    """The same filters for the JSON API, where a value that is not understood is a 400, not silently dropped."""
    reasons: dict[str, str] = {}
    if type_ and type_ not in RELEASE_TYPES:
        reasons["type"] = f"type 应为 {'、'.join(RELEASE_TYPES)} 之一。"
    topic = door.clean(topic or "").strip()
    if len(topic) > 20 or "," in topic:
        reasons["topic"] = "topic 应为一个话题（不超过 20 个字，不含逗号）。"
    if month and parse_month(month) is None:
        reasons["month"] = "month 格式应为 YYYY-MM，例如 2026-11。"
    number = 1
    if page:
        try:
            number = int(page) if page.isascii() else 0
        except ValueError:
            number = 0
        if not 1 <= number <= 10000:
            reasons["page"] = "page 应为 1 到 10000 之间的整数。"
    if reasons:
        raise ValidationFailed(reasons)
    return ReleaseFilters(type=type_, topic=topic, month=month, page=number)


def _visible(now: datetime):
    return select(Release).where(visible_release(now))


def list_releases(session: Session, filters: ReleaseFilters, now: datetime | None = None) -> tuple[list[Release], int]:
    """Visible releases, newest first, one page; plus the total count."""
    now = now or utcnow()
    stmt = _visible(now)
    if filters.type:
        stmt = stmt.where(Release.type == filters.type)
    if filters.topic:
        stmt = stmt.where(Release.topics.contains(f",{filters.topic},", autoescape=True))
    if filters.month:
        start, end = month_range(filters.month)
        stmt = stmt.where(Release.publish_at >= start, Release.publish_at < end)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.options(selectinload(Release.department), selectinload(Release.incident))
        .order_by(Release.publish_at.desc(), Release.id.desc())
        .offset((filters.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return list(rows), total


def topics_in_use(session: Session, now: datetime | None = None, limit: int = 30) -> list[str]:
    """Topic tags of visible releases, most used first (the filter's choices)."""
    counts: dict[str, int] = {}
    for topics in session.scalars(select(Release.topics).where(visible_release(now or utcnow()))):
        for tag in (topics or "").strip(",").split(","):
            if tag:
                counts[tag] = counts.get(tag, 0) + 1
    return [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:limit]


def get_release(session: Session, slug: str, now: datetime | None = None) -> Release | None:
    """A visible release by slug; None for unknown, malformed or not yet published."""
    if not slug or not SLUG_RE.match(slug):
        return None
    release = session.scalar(
        select(Release).where(Release.slug == slug).options(selectinload(Release.department),
                                                           selectinload(Release.incident))
    )
    if release is None or not release.is_visible(now):
        return None
    return release


def releases_for_incident(session: Session, incident_id: int, now: datetime | None = None) -> list[Release]:
    """Visible releases linked to an incident, newest first (withdrawn ones included: the page marks them)."""
    stmt = _visible(now or utcnow()).where(Release.incident_id == incident_id)
    return list(session.scalars(stmt.order_by(Release.publish_at.desc(), Release.id.desc())))


def all_releases(session: Session, limit: int = 200) -> list[Release]:
    """Every release, scheduled ones included (the console)."""
    return list(session.scalars(select(Release).order_by(Release.publish_at.desc(), Release.id.desc()).limit(limit)))


def feed_releases(session: Session, limit: int, type_: str = "", now: datetime | None = None) -> list[Release]:
    """Visible releases, the most recently issued (published or corrected) first."""
    stmt = _visible(now or utcnow())
    if type_:
        stmt = stmt.where(Release.type == type_)
    return list(session.scalars(stmt.order_by(Release.updated_at.desc(), Release.id.desc()).limit(limit)))


def releases_version(session: Session, type_: str = "", now: datetime | None = None) -> ContentVersion:
    """Version of the visible releases: a scheduled one changes it when it comes due; a correction too."""
    now = now or utcnow()
    stmt = select(
        func.count(Release.id), func.max(Release.updated_at), func.sum(Release.edition),
        func.count(Release.withdrawn_at),
    ).where(visible_release(now))
    attachments = select(func.count(Attachment.id)).join(Release).where(
        visible_release(now), Attachment.removed_at.is_(None)
    )
    if type_:
        stmt = stmt.where(Release.type == type_)
        attachments = attachments.where(Release.type == type_)
    count, newest, editions, withdrawn = session.execute(stmt).one()
    newest = _aware(newest)
    return _version("releases", [type_, count, newest, editions, withdrawn, session.scalar(attachments)], newest)


def visible_attachment(session: Session, attachment_id: int, now: datetime | None = None) -> Attachment | None:
    """An attachment whose release is published; None otherwise (a scheduled release's files stay private).

    Removed attachments and those of a withdrawn release are returned too: the view answers 410 Gone for them.
    """
    if not 0 < attachment_id < 2**31:
        return None
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or not attachment.release.is_visible(now):
        return None
    return attachment


def gone_message(attachment: Attachment) -> str | None:
    """Why a published attachment is no longer served (the 410 page), or None when it is."""
    if attachment.removed_at is not None:
        return f"该附件已于 {to_beijing(attachment.removed_at):%Y-%m-%d %H:%M}（北京时间）被发布单位删除，不再提供。"
    if attachment.release.withdrawn_at is not None:
        return "该附件所属的稿件已撤回，附件不再提供。"
    return None


# ---- the JSON API ---------------------------------------------------------------------------------------


def release_summary(release: Release, urls: dict) -> dict:
    """JSON-ready description of a visible release (the API list); `urls` carries the links built by the view."""
    withdrawn = release.withdrawn_at is not None
    return {
        "slug": release.slug,
        "type": release.type,
        "type_label": release.type_label,
        "title": release.title,
        "topics": release.topic_list,
        "department": release.department.name if release.department else None,
        "incident": release.incident.slug if release.incident else None,
        "author": release.author_title,
        "published_at": release.publish_at.isoformat(),
        "updated_at": release.updated_at.isoformat(),
        "edition": release.edition,
        "withdrawn_at": release.withdrawn_at.isoformat() if withdrawn else None,
        "withdrawn_reason": release.withdrawn_reason if withdrawn else None,
        **urls,
    }


def release_detail(release: Release, urls: dict, attachment_urls) -> dict:
    """One visible release with its text, public corrections and attachments (none of them once withdrawn).

    `attachment_urls(attachment)` returns {"url": …, "rendition_url": … or None}.
    """
    withdrawn = release.withdrawn_at is not None
    files = [] if withdrawn else release.current_attachments
    return {
        **release_summary(release, urls),
        "rumour_html": "" if withdrawn else release.rumour_html,
        "body_html": "" if withdrawn else release.body_html,
        "corrections": [{"edition": e.number, "note": e.change_note, "at": e.created_at.isoformat()}
                        for e in release.corrections],
        "attachments": [
            {
                "id": a.id, "kind": a.kind, "mime": a.mime, "filename": a.filename, "size": a.size,
                "width": a.width, "height": a.height, "sha256": a.sha256, "caption": a.caption,
                "uploaded_at": a.created_at.isoformat(), **attachment_urls(a),
            }
            for a in files
        ],
    }


# ---- conferences ----------------------------------------------------------------------------------------


def conferences(session: Session, now: datetime | None = None, past_limit: int = 50):
    """(upcoming soonest first, past newest first); a conference is upcoming until it ends."""
    now = now or utcnow()
    opts = (selectinload(Conference.incident), selectinload(Conference.release))
    upcoming = session.scalars(
        select(Conference).where(Conference.ends_at >= now, public_conference(now)).options(*opts)
        .order_by(Conference.starts_at)
    )
    past = session.scalars(
        select(Conference).where(Conference.ends_at < now, public_conference(now)).options(*opts)
        .order_by(Conference.starts_at.desc()).limit(past_limit)
    )
    return list(upcoming), list(past)


def calendar_conferences(session: Session, days_back: int = 365) -> list[Conference]:
    """Conferences for the iCalendar feed: the last year and everything ahead."""
    now = utcnow()
    since = now - timedelta(days=days_back)
    stmt = select(Conference).where(Conference.starts_at >= since, public_conference(now))
    return list(session.scalars(stmt.order_by(Conference.starts_at)))


def conferences_version(session: Session) -> ContentVersion:
    """Version of the calendar."""
    count, newest, seq = session.execute(
        select(func.count(Conference.id), func.max(Conference.updated_at), func.sum(Conference.sequence))
        .where(public_conference(utcnow()))
    ).one()
    newest = _aware(newest)
    return _version("conferences", [count, newest, seq], newest)


# ---- directory ------------------------------------------------------------------------------------------


def directory(session: Session) -> list[tuple[Department, list[DirectoryEntry]]]:
    """Directory rows grouped by department (departments in name order, rows by sort order)."""
    rows = session.scalars(
        select(DirectoryEntry).join(Department).options(selectinload(DirectoryEntry.department))
        .order_by(Department.name, DirectoryEntry.sort_order, DirectoryEntry.id)
    )
    grouped: dict[int, tuple[Department, list[DirectoryEntry]]] = {}
    for row in rows:
        grouped.setdefault(row.department_id, (row.department, []))[1].append(row)
    return list(grouped.values())
