"""Flask-WTF forms for the press-room console; the services check the content, with Chinese messages."""

from __future__ import annotations

from wtforms import BooleanField, IntegerField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import Optional

from portal.models.press import RELEASE_TYPES
from portal.services.bulletins.publishing import BODY_MAX, NOTE_MAX, TITLE_MAX
from portal.views.forms import TIME_HINT, PortalForm, Required, TextLength, options, strip


class ReleaseForm(PortalForm):
    """A new release: type, text (rumour and facts for a rebuttal), tags, department, now or later."""

    type = SelectField("稿件类型", choices=options(RELEASE_TYPES.items()), default="news", validate_choice=False)
    title = StringField("标题", filters=[strip], validators=[
        Required("请填写标题。"), TextLength(max=TITLE_MAX, message=f"标题不超过 {TITLE_MAX} 个字。")])
    rumour = TextAreaField("网传说法（仅辟谣稿，支持 Markdown）",
                           validators=[TextLength(max=2000, message="不超过 2000 个字。")])
    body = TextAreaField("正文（辟谣稿写事实真相；支持 Markdown）", validators=[
        Required("请填写正文。"), TextLength(max=BODY_MAX, message=f"正文不超过 {BODY_MAX} 个字。")])
    topics = StringField("话题（可不填，多个用逗号分隔）", filters=[strip])
    department_id = SelectField("发布部门（可不填）", choices=[], validate_choice=False)
    incident_slug = StringField("相关事件标识（可不填）", filters=[strip])
    slug = StringField("网址标识（可不填，小写字母、数字、连字符）", filters=[strip],
                       validators=[Optional(), TextLength(max=60, message="网址标识不超过 60 个字符。")])
    when = RadioField("发布时间", choices=options([("now", "立即发布"), ("later", "定时发布")]), default="now",
                      validate_choice=False)
    publish_at = StringField("定时发布时间", filters=[strip], description=TIME_HINT)
    preview = SubmitField("预览")
    submit = SubmitField("发布")


class ReleaseCorrectionForm(PortalForm):
    """A correction: new text and the public change note."""

    title = StringField("标题", filters=[strip],
                        validators=[TextLength(max=TITLE_MAX, message=f"标题不超过 {TITLE_MAX} 个字。")])
    rumour = TextAreaField("网传说法（仅辟谣稿）")
    body = TextAreaField("更正后的正文（支持 Markdown）", validators=[Required("请填写正文。")])
    change_note = StringField("更正说明（公开显示）", filters=[strip], validators=[
        Required("请填写更正说明，它会公开显示在稿件下方。"),
        TextLength(max=NOTE_MAX, message=f"更正说明不超过 {NOTE_MAX} 个字。")])
    preview = SubmitField("预览")
    submit = SubmitField("发布更正")


class AttachmentForm(PortalForm):
    """One file and its caption (the file itself is read from request.files)."""

    caption = StringField("说明文字（图片的替代文字，可不填）", filters=[strip],
                          validators=[TextLength(max=200, message="说明文字不超过 200 个字。")])
    submit = SubmitField("上传")


class ReleaseWithdrawForm(PortalForm):
    """Withdraw a release: a public reason and an explicit confirmation (the page then shows 已撤回)."""

    reason = StringField("撤回原因（公开显示）", filters=[strip], validators=[
        Required("请填写撤回原因，它会公开显示。"),
        TextLength(max=NOTE_MAX, message=f"撤回原因不超过 {NOTE_MAX} 个字。")])
    confirm = BooleanField("我确认撤回这篇稿件：正文、图片和附件将不再公开，此操作不能撤销。",
                           validators=[Required("请勾选确认后再撤回。")])
    submit = SubmitField("撤回稿件")


class AttachmentRemoveForm(PortalForm):
    """Remove one attachment, with an explicit confirmation (the file is deleted)."""

    confirm = BooleanField("确认删除（文件将被删除，链接失效）", validators=[Required("请勾选确认后再删除附件。")])
    submit = SubmitField("删除附件")


class ConferenceForm(PortalForm):
    """A press conference."""

    # Required fields are checked by the service, so every problem is reported at once.
    title = StringField("发布会名称", filters=[strip])
    starts_at = StringField("开始时间", filters=[strip], description=TIME_HINT)
    duration_minutes = IntegerField("时长（分钟）", default=60, validators=[Optional()])
    place = StringField("地点", filters=[strip])
    spokesperson = StringField("发言人（可不填）", filters=[strip])
    livestream_url = StringField("直播链接（可不填）", filters=[strip])
    incident_slug = StringField("相关事件标识（可不填）", filters=[strip])
    release_slug = StringField("相关稿件标识（可不填）", filters=[strip])
    description = TextAreaField("说明（可不填，支持 Markdown）")
    submit = SubmitField("保存")


class DirectoryForm(PortalForm):
    """One row of the spokesperson directory."""

    department_id = SelectField("部门", choices=[], validate_choice=False)
    name = StringField("姓名", filters=[strip], validators=[Required("请填写姓名。")])
    role = StringField("职务", filters=[strip], validators=[Required("请填写职务。")])
    office_phone = StringField("办公电话", filters=[strip], validators=[Required("请填写办公电话。")])
    duty_hours = StringField("值班时间（可不填）", filters=[strip])
    sort_order = IntegerField("排序（小的在前）", default=0, validators=[Optional()])
    submit = SubmitField("保存")


class ButtonForm(PortalForm):
    """A bare CSRF-protected button (cancel, delete)."""

    submit = SubmitField("确定")
