"""Forms of the desk, ledger, memos and account pages (CSRF on every POST; Chinese messages)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class CsrfForm(FlaskForm):
    """A bare CSRF-protected button; the view reads its other fields itself."""

    submit = SubmitField("提交")


class NoteForm(FlaskForm):
    # Ids are unique on the question page, which carries several forms (a label must point at one field).
    body = TextAreaField("内部备注（不公开）", id="note-body", filters=[_strip],
                         validators=[DataRequired("请填写备注。"), Length(max=2000, message="不超过 2000 个字。")])
    submit = SubmitField("添加备注")


class MergeForm(FlaskForm):
    original = StringField("已答复留言的编号", filters=[_strip],
                           validators=[DataRequired("请填写留言编号。"), Length(max=20, message="编号不超过 20 位。")])
    submit = SubmitField("合并为重复留言")


class ReturnForm(FlaskForm):
    reason = TextAreaField("退回理由", id="return-reason", filters=[_strip],
                           validators=[DataRequired("请填写退回理由。"), Length(max=500, message="不超过 500 个字。")])
    submit = SubmitField("退回办公室")


class TemplateForm(FlaskForm):
    title = StringField("模板名称", filters=[_strip],
                        validators=[DataRequired("请填写模板名称。"), Length(max=100, message="不超过 100 个字。")])
    department = SelectField("所属部门", choices=[], validate_choice=False)
    body = TextAreaField("模板内容", validators=[DataRequired("请填写模板内容。"),
                                                 Length(max=5000, message="不超过 5000 个字。")])
    submit = SubmitField("保存模板")


class MemoForm(FlaskForm):
    title = StringField("抄告事项", filters=[_strip],
                        validators=[DataRequired("请填写抄告事项。"), Length(max=200, message="不超过 200 个字。")])
    department = SelectField("责任部门", choices=[], validate_choice=False)
    summary = TextAreaField("舆情摘要", validators=[Length(max=5000, message="不超过 5000 个字。")])
    suggestion = TextAreaField("处置建议", validators=[DataRequired("请填写处置建议。"),
                                                     Length(max=5000, message="不超过 5000 个字。")])
    submit = SubmitField("生成抄告单")


class AccountForm(FlaskForm):
    username = StringField("用户名", filters=[_strip], validators=[Length(max=64, message="用户名过长。")])
    display_name = StringField("姓名/署名", filters=[_strip], validators=[Length(max=64, message="不超过 64 个字。")])
    role = SelectField("角色", choices=[], validate_choice=False, validators=[DataRequired("请选择角色。")])
    department = SelectField("部门", choices=[], validate_choice=False)
    email = StringField("通知邮箱（可不填）", filters=[_strip],
                        validators=[Optional(), Length(max=200, message="邮箱过长。")])
    password = PasswordField("初始密码（至少 10 位）", validators=[Length(max=256, message="密码过长。")])
    submit = SubmitField("保存")


class DisableForm(FlaskForm):
    reason = StringField("停用理由", filters=[_strip], validators=[Length(max=500, message="不超过 500 个字。")])
    submit = SubmitField("停用账号")


class ResetPasswordForm(FlaskForm):
    password = PasswordField("新密码（至少 10 位）",
                             validators=[DataRequired("请填写新密码。"), Length(max=256, message="密码过长。")])
    submit = SubmitField("重置密码")


class ChangePasswordForm(FlaskForm):
    current = PasswordField("当前密码", validators=[DataRequired("请填写当前密码。"), Length(max=256)])
    new = PasswordField("新密码（至少 10 位）", validators=[DataRequired("请填写新密码。"), Length(max=256)])
    repeat = PasswordField("再次输入新密码", validators=[DataRequired("请再次输入新密码。"), Length(max=256)])
    submit = SubmitField("修改密码")
