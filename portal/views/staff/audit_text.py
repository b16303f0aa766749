"""Audit and history entries in words: a Chinese label for every action and its details as readable fields.

The codes stay in the database (the audit filter uses them as prefixes); staff pages show the label, with the
code beside it in small type, and the details as "字段：值" instead of JSON. An action without a label here is
shown by its code, so a new action is never hidden, only less friendly until it is added.
"""

from __future__ import annotations

import json
from datetime import datetime

from markupsafe import Markup, escape

from portal.models.desk import MEMO_STATUS_LABELS
from portal.models.question import STATUS_LABELS
from portal.models.staff import ROLES
from portal.timeutil import to_beijing
from portal.views.staff import bp

ACTIONS = {
    "question.received": "收到留言", "question.routed": "转交部门办理", "question.rejected": "不予受理",
    "question.returned": "部门退回办公室", "question.merged": "合并为重复留言", "question.note": "添加内部备注",
    "question.co_departments": "设置协办部门", "question.major": "标记为重大舆情",
    "question.unmajor": "取消重大舆情标记",
    "question.overdue_notice": "发出超时提醒", "question.rated": "网友评价答复", "question.reported": "网友举报",
    "question.hidden_by_reports": "因多次举报暂时隐藏", "question.hidden": "隐藏已公开留言",
    "question.unhidden": "恢复显示留言", "questions.imported": "批量导入留言",
    "reply.saved": "保存答复草稿", "reply.published": "公开答复",
    "memo.created": "编入舆情抄告单", "memo.sent": "抄告单已报送", "memo.done": "抄告单已办结",
    "template.saved": "保存答复模板", "template.deleted": "删除答复模板", "ledger.export": "导出台账",
    "incident.created": "新建事件", "incident.status": "更改事件状态或下次通报时间",
    "incident.pinned": "置顶为全站横幅",
    "incident.unpinned": "取消全站横幅",
    "update.published": "发布通报", "update.scheduled": "定时发布通报", "update.corrected": "更正通报",
    "update.withdrawn": "撤回通报", "update.cancelled": "取消定时通报（发布前撤回）",
    "release.published": "发布新闻稿", "release.scheduled": "定时发布新闻稿", "release.corrected": "更正新闻稿",
    "release.withdrawn": "撤回新闻稿", "release.cancelled": "取消定时新闻稿（发布前撤回）",
    "release.attachment_added": "上传附件", "release.attachment_removed": "删除附件",
    "conference.created": "安排新闻发布会", "conference.updated": "调整新闻发布会",
    "conference.cancelled": "取消新闻发布会",
    "directory.saved": "保存发言人名录", "directory.deleted": "删除发言人名录条目",
    "subscription.requested": "申请邮件订阅", "subscription.confirmed": "确认邮件订阅",
    "subscription.cancelled": "退订邮件",
    "user.created": "新建账号", "user.updated": "修改账号", "user.disabled": "停用账号", "user.enabled": "启用账号",
    "user.password_reset": "重置密码", "user.password_changed": "修改本人密码", "user.totp_reset": "重置两步验证",
    "user.totp_enrolled": "绑定验证器", "user.totp_ok": "两步验证通过", "user.totp_failed": "两步验证失败",
    "user.login": "登录", "user.logout": "退出登录", "user.locked": "多次失败，账号暂时锁定",
    "department.created": "新增部门", "department.renamed": "部门更名", "department.retired": "撤销部门",
    "department.merged": "合并部门", "site.crisis_switches": "切换危机模式/留言接收", "contacts.purged": "清除联系方式",
    "reply.submitted": "答复提交审核", "reply.returned": "答复退回修改",
    "question.interim": "阶段性答复", "question.extension_requested": "申请延期",
    "question.extended": "批准延期", "question.extension_refused": "不予延期",
    "question.redo": "退回部门重办", "question.followup": "网友追问", "question.supplement": "补充答复",
    "question.opinion": "协办意见", "question.step_submitted": "阶段性/补充答复提交审核",
    "question.step_published": "阶段性/补充答复审核通过并公开", "question.step_returned": "阶段性/补充答复退回修改",
    "user.totp_reused": "动态验证码重复使用被拒绝", "user.totp_keys_rotated": "轮换两步验证密钥",
    "watch.source.create": "新增信息源", "watch.source.update": "修改信息源", "watch.source.pause": "暂停抓取信息源",
    "watch.source.resume": "恢复抓取信息源", "watch.source.import": "导入信息源（OPML）",
    "watch.plan.create": "新建监测方案", "watch.plan.update": "修改监测方案", "watch.plan.import": "导入监测方案",
    "watch.plan.reapply": "重新应用监测方案",
    "update.announced": "通报已排入邮件和推送", "release.announced": "新闻稿已排入邮件和推送",
    "subscription.confirmation_resent": "重发订阅确认邮件", "subscription.suspended": "多次退信，暂停订阅",
    "subscription.reinstated": "恢复暂停的订阅",
    "screen_name.registered": "网名备案", "screen_name.retired": "注销备案网名",
    "watch.assigned": "交办监测信息", "watch.dismissed": "研判为无需处置", "watch.answered": "记录平台回应",
    "watch.closed": "监测信息办结", "watch.major": "标记为重大舆情", "watch.note": "添加内部备注",
    "watch.gone": "复查发现帖子或回应已删除", "watch.overdue_notice": "发出超时提醒", "watch.patrolled": "巡查",
    "watch.capture.submit": "提交人工发现的网页", "watch.capture.retry": "重新抓取人工发现的网页",
    "watch.channel.add": "添加部门预警渠道", "watch.channel.remove": "删除部门预警渠道",
}

FIELDS = {
    "reason": "原因", "note": "说明", "name": "名称", "previous": "原名称", "into": "并入", "slug": "网址标识",
    "title": "标题", "number": "编号", "department": "部门", "role": "角色", "username": "用户名",
    "display_name": "姓名/署名", "email": "邮箱", "status": "状态", "rating": "评价", "reports": "举报次数",
    "incident": "事件", "publish_at": "发布时间", "next_update_due_at": "下次通报时间", "edition": "版本",
    "questions": "答复的留言", "memo": "抄告单", "items": "条目数", "crisis_mode": "危机模式",
    "intake_paused": "暂停接收留言", "before": "修改前", "after": "修改后", "changed": "修改项",
    "sessions_ended": "已结束其登录", "minutes": "锁定分钟", "factor": "验证方式", "length": "字数",
    "attachment": "附件编号", "filename": "文件名", "mime": "文件类型", "size": "字节数", "sha256": "校验值",
    "starts_at": "开始时间", "sequence": "日历版本", "conference": "发布会编号", "format": "格式", "filters": "筛选",
    "rows": "行数", "phone": "电话", "imported": "导入", "skipped": "跳过", "invalid": "无效",
    "history": "作为历史记录",
    "unknown_departments": "未知部门", "source": "来源", "staff": "转移账号", "templates": "转移模板",
    "directory": "转移名录", "previous_department_id": "原部门编号", "department_id": "部门编号", "note_id": "备注编号",
    "demo": "演示数据", "type": "类型", "days": "天数", "count": "数量",
}

VALUES = {
    "role": ROLES, "status": STATUS_LABELS,
    "format": {"csv": "CSV", "xlsx": "Excel"},
}


def action_label(action: str) -> str:
    """The Chinese label of an audit action (memo.<status> included); the code itself when unknown."""
    if action in ACTIONS:
        return ACTIONS[action]
    if action.startswith("memo.") and action[5:] in MEMO_STATUS_LABELS:
        return f"抄告单：{MEMO_STATUS_LABELS[action[5:]]}"
    return action


def _value(key: str, value) -> str:
    if value is None or value == "":
        return "（无）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(_value(key, v) for v in value) or "（无）"
    if isinstance(value, dict):
        return "；".join(f"{FIELDS.get(k, k)}：{_value(k, v)}" for k, v in value.items())
    if isinstance(value, str):
        if key in VALUES and value in VALUES[key]:
            return VALUES[key][value]
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return value
        if when.tzinfo is not None and "T" in value:
            return f"{to_beijing(when):%Y-%m-%d %H:%M}"
        return value
    return str(value)


def detail_pairs(detail: str) -> list[tuple[str, str]]:
    """(label, readable value) for each detail field; `changed` reads "字段：旧 → 新"."""
    try:
        data = json.loads(detail) if detail else {}
    except ValueError:
        return [("详情", detail)]
    if not isinstance(data, dict):
        return [("详情", str(data))]
    pairs = []
    for key, value in data.items():
        if key == "changed" and isinstance(value, dict):
            for field, change in value.items():
                old, new = (change + [None, None])[:2] if isinstance(change, list) else (None, change)
                pairs.append((FIELDS.get(field, field), f"{_value(field, old)} → {_value(field, new)}"))
            continue
        pairs.append((FIELDS.get(key, key), _value(key, value)))
    return pairs


@bp.app_template_filter("audit_label")
def audit_label_filter(action: str) -> Markup:
    """The label, with the code in small type beside it (the filter on /staff/audit takes codes)."""
    label = action_label(action)
    if label == action:
        return Markup("<code>{}</code>").format(action)
    return Markup('{} <code class="small">{}</code>').format(label, action)


@bp.app_template_filter("audit_detail")
def audit_detail_filter(detail: str) -> Markup:
    """The details as "字段：值" pairs separated by semicolons."""
    return Markup("；").join(Markup("{}：{}").format(k, v) for k, v in detail_pairs(detail)) or escape("")
