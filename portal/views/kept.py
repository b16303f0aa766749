"""Text is never lost: a POST refused for an expired session or a missing/expired CSRF token shows what was typed.

The text comes back as text only (escaped, read-only boxes to copy), never as a form that would submit it: a
refused request may come from another site, so nothing in it is trusted or acted on. The page links back to
the form it came from (a same-site Referer) and, when the session has ended, to the login page.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import render_template, request, url_for

# Never shown back: tokens, passwords, one-time codes and the spam trap; nor buttons and choices (nothing typed).
HIDDEN = frozenset({
    "csrf_token", "password", "new_password", "current_password", "password2", "confirm", "code", "homepage",
    "submit", "publish", "preview", "action", "kind", "when", "type", "status", "severity", "department",
    "department_id", "rating", "incident", "category", "pinned", "active",
})
LABELS = {
    "title": "标题", "body": "正文", "note": "备注", "reason": "理由", "change_note": "更正说明", "summary": "摘要",
    "rumour": "网传说法", "topics": "话题", "suggestion": "处置建议", "description": "说明", "caption": "说明文字",
    "place": "地点", "press_place": "发布会地点", "contact": "联系方式", "email": "电子邮箱", "name": "姓名",
    "display_name": "姓名/署名", "username": "用户名", "questions": "答复的留言编号", "number": "留言编号",
    "slug": "网址标识", "livestream_url": "直播链接", "publish_at": "定时发布时间", "started_at": "发生时间",
    "starts_at": "开始时间", "press_at": "发布会时间", "next_update_due_at": "下次通报时间", "duty_hours": "值班时间",
    "office_phone": "办公电话", "role": "职务", "original": "已答复留言的编号",
}


@dataclass(frozen=True)
class KeptField:
    """One field as typed: its label, its text, and whether it needs a tall box."""

    name: str
    label: str
    value: str

    @property
    def rows(self) -> int:
        return min(20, max(2, self.value.count("\n") + 1 + len(self.value) // 60)) if self._long else 1

    @property
    def _long(self) -> bool:
        return "\n" in self.value or len(self.value) > 60


def typed_fields() -> list[KeptField]:
    """The non-empty text fields of this POST, in the order sent (files and secrets left out)."""
    kept = []
    for name, value in request.form.items(multi=True):
        if not value.strip() or name.lower() in HIDDEN or "password" in name.lower():
            continue
        kept.append(KeptField(name, LABELS.get(name, name), value))
    return kept


def back_path() -> str | None:
    """The page the form was on, when the browser says it was a page of this site."""
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if not referrer or parts.netloc != request.host or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def kept_page(status: int, message: str, signed_out: bool):
    """The refusal page with the typed text below the message (or None when nothing was typed)."""
    fields = typed_fields()
    if not fields:
        return None
    back = back_path()
    login = url_for("auth.login", next=back) if signed_out else None
    html = render_template("errors/kept.html", code=status, title="内容未提交", message=message, fields=fields,
                           back=back, login=login)
    return html, status, {"Cache-Control": "private, no-store"}
