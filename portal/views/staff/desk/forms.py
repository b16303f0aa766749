"""Forms of the desk, ledger and memo pages (CSRF on every POST; Chinese messages)."""

from __future__ import annotations

from wtforms import HiddenField, SelectField, StringField, SubmitField, TextAreaField

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


# ---- review and handling in steps (question page) --------------------------------------------------------


class ReviewReturnForm(PortalForm):
    comment = TextAreaField("退回修改意见", id="review-comment", filters=[strip],
                            validators=[Required("请填写退回修改的意见。"),
                                        TextLength(max=1000, message="不超过 1000 个字。")])
    submit = SubmitField("退回修改")


class InterimForm(PortalForm):
    body = TextAreaField("阶段性答复（网友可见）", id="interim-body", filters=[strip],
                         validators=[Required("请填写阶段性答复。"),
                                     TextLength(max=5000, message="不超过 5000 个字。")])
    submit = SubmitField("发布阶段性答复")


class ExtensionForm(PortalForm):
    days = StringField("延长工作日数", id="extension-days", filters=[strip],
                       validators=[Required("请填写延长的工作日数。"), TextLength(max=3, message="请填写 1-15。")])
    reason = TextAreaField("延期理由（网友可见）", id="extension-reason", filters=[strip],
                           validators=[Required("请填写延期理由。"), TextLength(max=200, message="不超过 200 个字。")])
    submit = SubmitField("申请延期")


class ExtensionDecisionForm(PortalForm):
    note = StringField("审批意见（不批准时必填）", id="extension-note", filters=[strip],
                       validators=[TextLength(max=200, message="不超过 200 个字。")])
    approve = SubmitField("批准延期")
    refuse = SubmitField("不批准")


class RedoForm(PortalForm):
    note = TextAreaField("办公室意见（可不填）", id="redo-note", filters=[strip],
                         validators=[TextLength(max=1000, message="不超过 1000 个字。")])
    submit = SubmitField("要求重新办理")


class SupplementForm(PortalForm):
    body = TextAreaField("补充答复（网友可见）", id="supplement-body", filters=[strip],
                         validators=[Required("请填写补充答复。"), TextLength(max=5000, message="不超过 5000 个字。")])
    submit = SubmitField("发布补充答复")


class OpinionForm(PortalForm):
    body = TextAreaField("协办意见（牵头部门可见，不公开）", id="opinion-body", filters=[strip],
                         validators=[Required("请填写协办意见。"), TextLength(max=2000, message="不超过 2000 个字。")])
    submit = SubmitField("提交协办意见")


class StepReviewForm(PortalForm):
    step = HiddenField()
    comment = TextAreaField("退回修改意见（退回时必填）", id="step-comment", filters=[strip],
                            validators=[TextLength(max=1000, message="不超过 1000 个字。")])
    publish_step = SubmitField("通过并公开")
    return_step = SubmitField("退回修改")
