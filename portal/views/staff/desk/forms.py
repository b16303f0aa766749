"""Forms of the desk, ledger and memo pages (CSRF on every POST; Chinese messages)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from portal.views.forms import strip


class NoteForm(FlaskForm):
    # Ids are unique on the question page, which carries several forms (a label must point at one field).
    body = TextAreaField("内部备注（不公开）", id="note-body", filters=[strip],
                         validators=[DataRequired("请填写备注。"), Length(max=2000, message="不超过 2000 个字。")])
    submit = SubmitField("添加备注")


class MergeForm(FlaskForm):
    original = StringField("已答复留言的编号", filters=[strip],
                           validators=[DataRequired("请填写留言编号。"), Length(max=20, message="编号不超过 20 位。")])
    submit = SubmitField("合并为重复留言")


class ReturnForm(FlaskForm):
    reason = TextAreaField("退回理由", id="return-reason", filters=[strip],
                           validators=[DataRequired("请填写退回理由。"), Length(max=500, message="不超过 500 个字。")])
    submit = SubmitField("退回办公室")


class TemplateForm(FlaskForm):
    title = StringField("模板名称", filters=[strip],
                        validators=[DataRequired("请填写模板名称。"), Length(max=100, message="不超过 100 个字。")])
    department = SelectField("所属部门", choices=[], validate_choice=False)
    body = TextAreaField("模板内容", validators=[DataRequired("请填写模板内容。"),
                                                 Length(max=5000, message="不超过 5000 个字。")])
    submit = SubmitField("保存模板")


class MemoForm(FlaskForm):
    title = StringField("抄告事项", filters=[strip],
                        validators=[DataRequired("请填写抄告事项。"), Length(max=200, message="不超过 200 个字。")])
    department = SelectField("责任部门", choices=[], validate_choice=False)
    summary = TextAreaField("舆情摘要", validators=[Length(max=5000, message="不超过 5000 个字。")])
    suggestion = TextAreaField("处置建议", validators=[DataRequired("请填写处置建议。"),
                                                     Length(max=5000, message="不超过 5000 个字。")])
    submit = SubmitField("生成抄告单")
