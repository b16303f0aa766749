"""Alert channels (Apprise URLs): checking them, showing them masked, and each department's own channels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.errors import NotFound, ValidationFailed
from portal.models import Department, StaffUser
from portal.models.watch import WatchDepartmentChannel
from portal.services import audit

URL_MAX = 1000
CHANNELS_MAX = 10
EXAMPLES = "例如 wecombot://机器人密钥、dingtalk://令牌/、feishu://令牌 或 json://主机/路径"


def channel_key(url: str) -> str:
    """A short stable key for one channel (its hash: what "one channel" means, and no token in a form)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]


def _plugin(url: str):
    import apprise  # imported when needed: a large package the public pages never use

    return apprise.Apprise.instantiate(url)


def check_url(url: str) -> str | None:
    """A Chinese message when Apprise cannot use the URL, else None (no connection is made)."""
    if len(url) > URL_MAX:
        return f"推送地址不能超过 {URL_MAX} 个字符。"
    if "://" not in url or _plugin(url) is None:
        return f"无法识别的推送地址：{mask(url)}（应为 Apprise 格式，{EXAMPLES}）。"
    return None


def _mask_part(part: str) -> str:
    return part if len(part) < 8 else f"{part[0]}…{part[-1]}"


def mask(url: str) -> str:
    """The URL with its secrets hidden: password, tokens in the host or path, and the query dropped."""
    plugin = _plugin(url) if "://" in url and len(url) <= URL_MAX else None
    shown = plugin.url(privacy=True) if plugin is not None else url
    try:
        parts = urlsplit(shown)
    except ValueError:
        return "（无法显示）"
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':')[0]}:****@{host}"
    elif not any(c in netloc for c in ".:") and netloc:  # a bare token where a host would be
        netloc = _mask_part(netloc)
    path = "/".join(_mask_part(p) for p in parts.path.split("/"))
    return urlunsplit((parts.scheme, netloc, path, "", ""))


@dataclass
class DepartmentChannels:
    """A department with its channels, masked for the page, each with the key that removes it."""

    department: Department
    channels: list[tuple[str, str]]  # (key, masked URL)


def urls_of(row: WatchDepartmentChannel | None) -> list[str]:
    return [u for u in (row.alert_urls.split() if row else []) if u]


def list_channels(session: Session) -> list[DepartmentChannels]:
    """Every department, with its alert channels masked."""
    rows = {r.department_id: r for r in session.scalars(select(WatchDepartmentChannel))}
    return [DepartmentChannels(d, [(channel_key(u), mask(u)) for u in urls_of(rows.get(d.id))])
            for d in session.scalars(select(Department).order_by(Department.name))]


def add_channels(session: Session, actor: StaffUser | None, department_id: int | None, urls: list[str]) -> int:
    """Add Apprise URLs to a department's channels (checked first); returns how many were new."""
    reasons = {}
    department = session.get(Department, department_id) if department_id else None
    if department is None:
        reasons["department_id"] = "请选择部门。"
    if not urls:
        reasons["alert_urls"] = f"请填写至少一个推送地址（{EXAMPLES}）。"
    else:
        problems = [p for p in (check_url(u) for u in urls) if p]
        if problems:
            reasons["alert_urls"] = " ".join(problems)
    if reasons:
        raise ValidationFailed(reasons)
    row = session.get(WatchDepartmentChannel, department.id)
    if row is None:
        row = WatchDepartmentChannel(department_id=department.id, alert_urls="")
        session.add(row)
    current = urls_of(row)
    new = [u for u in dict.fromkeys(urls) if u not in current]
    if len(current) + len(new) > CHANNELS_MAX:
        raise ValidationFailed({"alert_urls": f"每个部门最多 {CHANNELS_MAX} 个推送地址。"})
    row.alert_urls = "\n".join(current + new)
    audit.record(session, actor, "watch.channel.add", "department", department.id,
                 channels=[mask(u) for u in new])  # never the token itself
    session.commit()
    return len(new)


def remove_channel(session: Session, actor: StaffUser | None, department_id: int, key: str) -> None:
    """Remove one of a department's channels, named by its key."""
    row = session.get(WatchDepartmentChannel, department_id)
    current = urls_of(row)
    gone = [u for u in current if channel_key(u) == key]
    if row is None or not gone:
        raise NotFound("没有这个推送地址。")
    row.alert_urls = "\n".join(u for u in current if channel_key(u) != key)
    audit.record(session, actor, "watch.channel.remove", "department", department_id, channel=mask(gone[0]))
    session.commit()
