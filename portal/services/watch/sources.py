"""Watched sources: add, edit, pause; OPML import and export with the portal's namespaced attributes; health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.errors import NotFound, ValidationFailed
from portal.models import Department, StaffUser
from portal.models.watch import PLATFORMS, REGIONS, WatchSource
from portal.services import audit
from portal.services.watch.pages import check_selector
from portal.services.watch.settings import WatchSettings
from portal.services.watch.textclean import one_line

PW_NS = "https://example.org/portal-watch"
# What a feed generator tells about the platform, when an OPML file names the generator only.
GENERATOR_PLATFORMS = {
    "discuz": "论坛", "phpwind": "论坛", "rsshub-weibo": "微博", "rsshub-people": "政务留言板",
    "rsshub-wechat": "微信公众号", "rsshub-douyin": "短视频", "django": "新闻网站", "hugo": "新闻网站",
}
REGION_ALIASES = {"本地": "本地", "周边": "周边地区", "周边地区": "周边地区", "同行业": "同行业"}
SILENT_FACTOR = 3
SILENT_DEFAULT = timedelta(days=7)


@dataclass
class SourceFields:
    """A source as typed on the form or read from OPML."""

    name: str
    platform: str = "其他"
    region: str = "本地"
    department_id: int | None = None
    feed_url: str = ""
    html_url: str = ""
    interval_minutes: int | None = None
    extract_selector: str = ""
    generator: str = ""


def _valid_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def validate(session: Session, fields: SourceFields, settings: WatchSettings, source_id: int | None = None) -> None:
    """Raise ValidationFailed with a Chinese message per bad field."""
    reasons = {}
    if not fields.name.strip():
        reasons["name"] = "请填写信息源名称。"
    elif len(fields.name) > 200:
        reasons["name"] = "名称不能超过 200 个字。"
    if fields.platform not in PLATFORMS:
        reasons["platform"] = "请选择平台类型。"
    if fields.region not in REGIONS:
        reasons["region"] = "请选择地区（本地、周边地区或同行业）。"
    if fields.feed_url and not _valid_url(fields.feed_url):
        reasons["feed_url"] = "订阅地址应以 http:// 或 https:// 开头。"
    if fields.html_url and not _valid_url(fields.html_url):
        reasons["html_url"] = "网页地址应以 http:// 或 https:// 开头。"
    if not fields.feed_url and not fields.html_url:
        reasons["html_url"] = "人工巡查的信息源请填写网页地址。"
    if fields.interval_minutes is not None and not (
        settings.min_interval_minutes <= fields.interval_minutes <= 7 * 24 * 60
    ):
        reasons["interval_minutes"] = f"抓取间隔应在 {settings.min_interval_minutes} 分钟到 7 天之间。"
    if fields.department_id is not None and session.get(Department, fields.department_id) is None:
        reasons["department_id"] = "所选部门不存在。"
    if fields.extract_selector.strip():
        problem = check_selector(fields.extract_selector.strip())
        if problem:
            reasons["extract_selector"] = problem
    if fields.feed_url and not reasons.get("feed_url"):
        clash = session.scalar(select(WatchSource.id).where(WatchSource.feed_url == fields.feed_url))
        if clash is not None and clash != source_id:
            reasons["feed_url"] = "这个订阅地址已经添加过了。"
    if reasons:
        raise ValidationFailed(reasons)


def _apply(source: WatchSource, fields: SourceFields) -> None:
    source.name = fields.name.strip()
    source.platform, source.region, source.department_id = fields.platform, fields.region, fields.department_id
    source.feed_url = fields.feed_url.strip() or None
    source.html_url = fields.html_url.strip()
    source.interval_minutes, source.extract_selector = fields.interval_minutes, fields.extract_selector.strip()
    source.generator = fields.generator.strip()[:40]


def create_source(session: Session, actor: StaffUser | None, fields: SourceFields,
                  settings: WatchSettings) -> WatchSource:
    """Add a source (due for its first fetch at once)."""
    validate(session, fields, settings)
    source = WatchSource()
    _apply(source, fields)
    session.add(source)
    session.flush()
    audit.record(session, actor, "watch.source.create", "watch_source", source.id, name=source.name)
    session.commit()
    return source


def update_source(session: Session, actor: StaffUser | None, source: WatchSource, fields: SourceFields,
                  settings: WatchSettings) -> WatchSource:
    """Change a source; a changed feed URL forgets the old validators."""
    validate(session, fields, settings, source.id)
    if (fields.feed_url.strip() or None) != source.feed_url:
        source.etag = source.last_modified = source.body_hash = None
        source.next_fetch_at = None
    _apply(source, fields)
    audit.record(session, actor, "watch.source.update", "watch_source", source.id, name=source.name)
    session.commit()
    return source


def set_paused(session: Session, actor: StaffUser | None, source: WatchSource, paused: bool, reason: str = "") -> None:
    """Pause or resume fetching; resuming clears the failure count and makes the source due now."""
    source.paused = paused
    source.paused_reason = reason[:200] if paused else ""
    if not paused:
        source.consecutive_failures, source.next_fetch_at = 0, None
    audit.record(session, actor, "watch.source.pause" if paused else "watch.source.resume", "watch_source",
                 source.id)
    session.commit()


def get_source(session: Session, source_id: int) -> WatchSource:
    source = session.get(WatchSource, source_id)
    if source is None:
        raise NotFound("没有这个信息源。")
    return source


def list_sources(session: Session) -> list[WatchSource]:
    return list(session.scalars(select(WatchSource).order_by(WatchSource.region, WatchSource.name)))


def health(source: WatchSource, now: datetime) -> tuple[str, str]:
    """A short state and its CSS class: 人工巡查, 已暂停, 连续失败, 沉寂, 未抓取, 正常."""
    if source.by_hand:
        return "人工巡查", "muted"
    if source.paused:
        return "已暂停" + (f"（{source.paused_reason}）" if source.paused_reason else ""), "bad"
    if source.consecutive_failures:
        return f"连续失败 {source.consecutive_failures} 次", "bad"
    if source.last_success_at is None:
        return "未抓取", "muted"
    quiet_since = source.last_new_item_at or source.created_at
    usual = timedelta(seconds=source.usual_gap_seconds) * SILENT_FACTOR if source.usual_gap_seconds else None
    if now - quiet_since > max(usual or SILENT_DEFAULT, timedelta(hours=1)):
        return "沉寂（长时间没有新内容，可能论坛冷清，也可能桥接失效）", "warn"
    return "正常", "ok"


def _department_id(session: Session, name: str) -> int | None:
    if not name:
        return None
    return session.scalar(select(Department.id).where((Department.name == name) | (Department.slug == name)))


def import_opml(session: Session, actor: StaffUser | None, data: bytes,
                settings: WatchSettings) -> tuple[int, int, list[str]]:
    """Add or update sources from OPML (keyed by feed URL); returns created, updated and the problems found."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ValidationFailed({"file": f"OPML 文件无法解析：{exc}"}) from None
    if root.tag != "opml":
        raise ValidationFailed({"file": "不是 OPML 文件（根元素应为 opml）。"})
    created = updated = 0
    problems: list[str] = []
    for outline in root.iter("outline"):
        feed_url = (outline.get("xmlUrl") or "").strip()
        html_url = (outline.get("htmlUrl") or "").strip()
        if not feed_url and not outline.get(f"{{{PW_NS}}}platform") and not outline.get(f"{{{PW_NS}}}kind"):
            continue  # a category outline
        name = one_line(outline.get("title") or outline.get("text") or feed_url, 200)
        generator = outline.get(f"{{{PW_NS}}}platform") or ""
        kind = outline.get(f"{{{PW_NS}}}kind") or GENERATOR_PLATFORMS.get(generator, "其他")
        region = REGION_ALIASES.get(outline.get(f"{{{PW_NS}}}region") or "本地", "")
        dept_name = outline.get(f"{{{PW_NS}}}department") or ""
        dept_id = _department_id(session, dept_name)
        if dept_name and dept_id is None:
            problems.append(f"{name}：没有名为“{dept_name}”的部门，未指定巡查部门")
        interval = outline.get(f"{{{PW_NS}}}interval")
        fields = SourceFields(name=name, platform=kind, region=region, department_id=dept_id, feed_url=feed_url,
                              html_url=html_url, generator=generator,
                              interval_minutes=int(interval) if interval and interval.isdigit() else None)
        existing = session.scalar(select(WatchSource).where(WatchSource.feed_url == feed_url)) if feed_url else None
        try:
            validate(session, fields, settings, existing.id if existing else None)
        except ValidationFailed as exc:
            problems.append(f"{name}：" + "；".join(exc.reasons.values()))
            continue
        if existing is None:
            source = WatchSource()
            _apply(source, fields)
            session.add(source)
            created += 1
        else:
            _apply(existing, fields)
            updated += 1
        session.flush()
    audit.record(session, actor, "watch.source.import", "watch_source", None, created=created, updated=updated)
    session.commit()
    return created, updated, problems


REVERSE_REGION = {"周边地区": "周边"}


def export_opml(session: Session, title: str) -> bytes:
    """Every source as OPML 2.0, the portal's fields in the pw: namespace."""
    root = etree.Element("opml", version="2.0", nsmap={"pw": PW_NS})
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    for source in list_sources(session):
        attrs = {"type": "rss", "text": source.name, "title": source.name}
        if source.feed_url:
            attrs["xmlUrl"] = source.feed_url
        if source.html_url:
            attrs["htmlUrl"] = source.html_url
        outline = etree.SubElement(body, "outline", attrs)
        outline.set(f"{{{PW_NS}}}kind", source.platform)
        if source.generator:
            outline.set(f"{{{PW_NS}}}platform", source.generator)
        outline.set(f"{{{PW_NS}}}region", REVERSE_REGION.get(source.region, source.region))
        if source.department:
            outline.set(f"{{{PW_NS}}}department", source.department.name)
        if source.interval_minutes:
            outline.set(f"{{{PW_NS}}}interval", str(source.interval_minutes))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
