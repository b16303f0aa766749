"""Forms of the desk, ledger and memo pages (CSRF on every POST; Chinese messages)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, SubmitField, TextAreaField
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


# ---- review and handling in steps (question page) --------------------------------------------------------


class ReviewReturnForm(FlaskForm):
    comment = TextAreaField("退回修改意见", id="review-comment", filters=[strip],
                            validators=[DataRequired("请填写退回修改的意见。"),
                                        Length(max=1000, message="不超过 1000 个字。")])
    submit = SubmitField("退回修改")


class InterimForm(FlaskForm):
    body = TextAreaField("阶段性答复（网友可见）", id="interim-body", filters=[strip],
                         validators=[DataRequired("请填写阶段性答复。"),
                                     Length(max=5000, message="不超过 5000 个字。")])
    submit = SubmitField("发布阶段性答复")


class ExtensionForm(FlaskForm):
    days = StringField("延长工作日数", id="extension-days", filters=[strip],
                       validators=[DataRequired("请填写延长的工作日数。"), Length(max=3, message="请填写 1-15。")])
    reason = TextAreaField("延期理由（网友可见）", id="extension-reason", filters=[strip],
                           validators=[DataRequired("请填写延期理由。"), Length(max=200, message="不超过 200 个字。")])
    submit = SubmitField("申请延期")


class ExtensionDecisionForm(FlaskForm):
    note = StringField("审批意见（不批准时必填）", id="extension-note", filters=[strip],
                       validators=[Length(max=200, message="不超过 200 个字。")])
    approve = SubmitField("批准延期")
    refuse = SubmitField("不批准")


class RedoForm(FlaskForm):
    note = TextAreaField("办公室意见（可不填）", id="redo-note", filters=[strip],
                         validators=[Length(max=1000, message="不超过 1000 个字。")])
    submit = SubmitField("要求重新办理")


class SupplementForm(FlaskForm):
    body = TextAreaField("补充答复（网友可见）", id="supplement-body", filters=[strip],
                         validators=[DataRequired("请填写补充答复。"), Length(max=5000, message="不超过 5000 个字。")])
    submit = SubmitField("发布补充答复")


class OpinionForm(FlaskForm):
    body = TextAreaField("协办意见（牵头部门可见，不公开）", id="opinion-body", filters=[strip],
                         validators=[DataRequired("请填写协办意见。"), Length(max=2000, message="不超过 2000 个字。")])
    submit = SubmitField("提交协办意见")


class StepReviewForm(FlaskForm):
    step = HiddenField()
    comment = TextAreaField("退回修改意见（退回时必填）", id="step-comment", filters=[strip],
                            validators=[Length(max=1000, message="不超过 1000 个字。")])
    publish_step = SubmitField("通过并公开")
    return_step = SubmitField("退回修改")
