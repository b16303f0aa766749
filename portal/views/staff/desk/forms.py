"""Forms of the desk, ledger and memo pages (CSRF on every POST; Chinese messages)."""

from __future__ import annotations

from wtforms import SelectField, StringField, SubmitField, TextAreaField

from portal.views.forms import PortalForm, Required, TextLength, fold, strip


class NoteForm(PortalForm):
    # Ids are unique on the question page, which carries several forms (a label must point at one field).
    body = TextAreaField("内部备注（不公开）", id="note-body", filters=[strip],
                         validators=[Required("请填写备注。"), TextLength(max=2000, message="不超过 2000 个字。")])
    submit = SubmitField("添加备注")


class MergeForm(PortalForm):
    original = StringField("已答复留言的编号", filters=[fold],
                           validators=[Required("请填写留言编号。"), TextLength(max=20, message="编号不超过 20 位。")])
    submit = SubmitField("合并为重复留言")


class ReturnForm(PortalForm):
    reason = TextAreaField("退回理由", id="return-reason", filters=[strip],
                           validators=[Required("请填写退回理由。"), TextLength(max=500, message="不超过 500 个字。")])
    submit = SubmitField("退回办公室")


class TemplateForm(PortalForm):
    title = StringField("模板名称", filters=[strip],
                        validators=[Required("请填写模板名称。"), TextLength(max=100, message="不超过 100 个字。")])
    department = SelectField("所属部门", choices=[], validate_choice=False)
    body = TextAreaField("模板内容", validators=[Required("请填写模板内容。"),
                                                 TextLength(max=5000, message="不超过 5000 个字。")])
    submit = SubmitField("保存模板")


class MemoForm(PortalForm):
    title = StringField("抄告事项", filters=[strip],
                        validators=[Required("请填写抄告事项。"), TextLength(max=200, message="不超过 200 个字。")])
    department = SelectField("责任部门", choices=[], validate_choice=False)
    summary = TextAreaField("舆情摘要", validators=[TextLength(max=5000, message="不超过 5000 个字。")])
    suggestion = TextAreaField("处置建议", validators=[Required("请填写处置建议。"),
                                                     TextLength(max=5000, message="不超过 5000 个字。")])
    submit = SubmitField("生成抄告单")
