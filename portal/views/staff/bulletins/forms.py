"""Flask-WTF forms for bulletins; the services validate the content, with Chinese messages."""

from __future__ import annotations

from wtforms import RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import Optional

from portal.models.bulletin import INCIDENT_STATUSES, SEVERITIES, UPDATE_KINDS
from portal.services.bulletins.publishing import BODY_MAX, NOTE_MAX, SUMMARY_MAX, TITLE_MAX
from portal.views.forms import TIME_HINT, PortalForm, Required, TextLength, fold, options, strip


class IncidentForm(PortalForm):
    """Open an incident."""

    title = StringField("事件标题", filters=[strip], validators=[
        Required("请填写事件标题。"), TextLength(max=TITLE_MAX, message=f"事件标题不超过 {TITLE_MAX} 个字。")])
    slug = StringField("网址标识（可不填，小写字母、数字、连字符）", filters=[strip],
                       validators=[Optional(), TextLength(max=60, message="网址标识不超过 60 个字符。")])
    severity = SelectField("事件级别", choices=options([("", "请选择")] + list(SEVERITIES.items())),
                           validate_choice=False, validators=[Required("请选择事件级别。")])
    status = SelectField("状态", choices=options(INCIDENT_STATUSES.items()), validate_choice=False)
    started_at = StringField("发生时间", filters=[strip], description=TIME_HINT,
                             validators=[Required("请填写事件发生时间。")])
    next_update_due_at = StringField("下次通报时间（可不填）", filters=[strip], description=TIME_HINT)
    summary = TextAreaField("事件概况（支持 Markdown）", validators=[
        TextLength(max=SUMMARY_MAX, message=f"事件概况不超过 {SUMMARY_MAX} 个字。")])
    submit = SubmitField("创建事件")


class StatusForm(PortalForm):
    """Change an incident's status and the next-update clock."""

    status = SelectField("状态", choices=options(INCIDENT_STATUSES.items()), validate_choice=False)
    next_update_due_at = StringField("下次通报时间（留空表示不再承诺）", filters=[strip], description=TIME_HINT)
    submit = SubmitField("保存状态")


class UpdateForm(PortalForm):
    """Post an update in one step: text, kind, now or at a set time, linked questions; with preview."""

    kind = RadioField("类型", choices=options(UPDATE_KINDS.items()), default="update", validate_choice=False)
    title = StringField("标题（可不填，自动生成）", filters=[strip],
                        validators=[TextLength(max=TITLE_MAX, message=f"标题不超过 {TITLE_MAX} 个字。")])
    body = TextAreaField("通报内容（支持 Markdown）", validators=[
        Required("请填写通报内容。"), TextLength(max=BODY_MAX, message=f"通报内容不超过 {BODY_MAX} 个字。")])
    when = RadioField("发布时间", choices=options([("now", "立即发布"), ("later", "定时发布")]), default="now",
                      validate_choice=False)
    publish_at = StringField("定时发布时间", filters=[strip], description=TIME_HINT)
    press_at = StringField("发布会时间（发布会预告必填）", filters=[strip], description=TIME_HINT)
    press_place = StringField("发布会地点", filters=[strip])
    livestream_url = StringField("直播链接（可不填）", filters=[strip])
    questions = StringField("答复的留言编号（可不填，多个用逗号或空格分隔）", filters=[fold])
    preview = SubmitField("预览")
    submit = SubmitField("发布")


class CorrectionForm(PortalForm):
    """A correction: the new text and the public change note."""

    title = StringField("标题", filters=[strip],
                        validators=[TextLength(max=TITLE_MAX, message=f"标题不超过 {TITLE_MAX} 个字。")])
    body = TextAreaField("更正后的内容（支持 Markdown）", validators=[Required("请填写通报内容。")])
    change_note = StringField("更正说明（公开显示）", filters=[strip], validators=[
        Required("请填写更正说明，它会公开显示在通报下方。"),
        TextLength(max=NOTE_MAX, message=f"更正说明不超过 {NOTE_MAX} 个字。")])
    preview = SubmitField("预览")
    submit = SubmitField("发布更正")


class WithdrawForm(PortalForm):
    """Withdraw an update with a public reason."""

    reason = StringField("撤回原因（公开显示）", filters=[strip], validators=[
        Required("请填写撤回原因，它会公开显示。"), TextLength(max=NOTE_MAX, message=f"不超过 {NOTE_MAX} 个字。")])
    submit = SubmitField("撤回")


class PinForm(PortalForm):
    """Pin or unpin the crisis banner (a bare CSRF-protected button)."""

    submit = SubmitField("置顶")
