"""Flask-WTF forms (CSRF on every POST); every message is in Chinese."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    Field,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, StopValidation, ValidationError

from portal import text
from portal.models.question import CATEGORIES, RATINGS, REJECT_REASONS
from portal.models.report import REPORT_REASONS
from portal.services.board.questions import (
    BODY_MAX,
    BODY_MIN,
    COMMENT_MAX,
    CONTACT_MAX,
    NOTE_MAX,
    REPLY_MAX,
    TITLE_MAX,
    TITLE_MIN,
)


def options(pairs) -> list[SelectChoice]:
    """Select/radio options from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def strip(value):
    """A form filter: strip surrounding white space from a text value (None and non-text pass through)."""
    return value.strip() if isinstance(value, str) else value


def clean(value):
    """A form filter: the text door (portal.text.clean) for a text value; None and non-text pass through."""
    return text.clean(value) if isinstance(value, str) else value


def fold(value):
    """A form filter for codes and numbers: full-width forms folded (portal.text.fold_width)."""
    return text.fold_width(value) if isinstance(value, str) else value


class Required:
    """DataRequired that counts what a reader sees: white space and zero-width characters alone are empty."""

    field_flags = {"required": True}

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form: FlaskForm, field: Field) -> None:
        data = field.data
        if isinstance(data, str) and not text.is_blank(data):
            return
        if data and not isinstance(data, str):
            return
        field.errors[:] = []
        raise StopValidation(self.message)


class TextLength:
    """Length with the minimum counted in visible characters (portal.text.visible_length); the maximum counts
    every character, so hidden ones can neither pad a short text nor overflow what storage was sized for."""

    def __init__(self, min: int = -1, max: int = -1, message: str = "") -> None:  # noqa: A002 - as wtforms Length
        self.min, self.max, self.message = min, max, message or "长度不符合要求。"
        self.field_flags = {k: v for k, v in (("minlength", min), ("maxlength", max)) if v != -1}

    def __call__(self, form: FlaskForm, field: Field) -> None:
        data = field.data if isinstance(field.data, str) else ""
        if self.min != -1 and text.visible_length(data) < self.min:
            raise ValidationError(self.message)
        if self.max != -1 and len(data) > self.max:
            if text.visible_length(data) <= self.max:
                raise ValidationError(f"含有不可见的字符，超过了 {self.max} 个字的长度，请删除后再提交。")
            raise ValidationError(self.message)


class PortalForm(FlaskForm):
    """Every form of the portal: each text field (passwords aside) passes the text door before its own filters."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            """Put `clean` first in the filters of every text field."""
            kind = unbound_field.field_class
            if issubclass(kind, StringField) and not issubclass(kind, PasswordField):
                options = {**options, "filters": (clean, *(unbound_field.kwargs.get("filters") or ()))}
            return unbound_field.bind(form=form, **options)


TIME_HINT = "北京时间，例如 2026-11-25 14:30"


class CsrfForm(PortalForm):
    """A bare CSRF-protected button; the view reads its other fields itself."""

    submit = SubmitField("提交")


class AskForm(PortalForm):
    """The citizen's question. Choices are validated by the service, with Chinese messages."""

    title = StringField(
        "标题",
        filters=[strip],
        validators=[
            Required("请填写标题。"),
            TextLength(TITLE_MIN, TITLE_MAX, f"标题应为 {TITLE_MIN}-{TITLE_MAX} 个字。"),
        ],
    )
    body = TextAreaField(
        "留言内容",
        filters=[strip],
        validators=[
            Required("请填写留言内容。"),
            TextLength(BODY_MIN, BODY_MAX, f"留言内容应为 {BODY_MIN}-{BODY_MAX} 个字。"),
        ],
    )
    category = SelectField(
        "类别",
        choices=options([("", "请选择")] + [(c, c) for c in CATEGORIES]),
        validate_choice=False,
        validators=[Required("请选择留言类别。")],
    )
    department = SelectField("希望答复的部门（可不选）", choices=[], validate_choice=False)
    contact = StringField(
        "联系方式（可不填，不公开）",
        filters=[strip],
        validators=[Optional(), TextLength(max=CONTACT_MAX, message=f"联系方式不超过 {CONTACT_MAX} 个字。")],
    )
    # Honeypot: hidden from people by CSS, filled in by naive bots.
    homepage = StringField("请勿填写此项")
    submit = SubmitField("提交留言")


class TrackForm(PortalForm):
    """Look a question up by its number and tracking code."""

    number = StringField(
        "留言编号",
        filters=[fold],
        validators=[Required("请填写留言编号。"), TextLength(max=20, message="留言编号不超过 20 位。")],
    )
    code = StringField(
        "查询码",
        filters=[fold],
        validators=[Required("请填写查询码。"), TextLength(max=40, message="查询码格式不正确。")],
    )
    submit = SubmitField("查询")


class RateForm(PortalForm):
    """The citizen's one rating of a published reply."""

    number = HiddenField(filters=[fold])
    rating = RadioField(
        "您对这条答复是否满意？",
        choices=options(RATINGS.items()),
        validate_choice=False,
        validators=[Required("请选择满意、基本满意或不满意。")],
    )
    comment = TextAreaField(
        "评价意见（可不填）",
        filters=[strip],
        validators=[Optional(), TextLength(max=COMMENT_MAX, message=f"评价意见不超过 {COMMENT_MAX} 个字。")],
    )
    submit = SubmitField("提交评价")


class FollowUpForm(PortalForm):
    """The citizen's one follow-up question (追问) after the reply, answered in the same thread."""

    number = HiddenField(id="followup-number")
    body = TextAreaField(
        "追问内容",
        id="followup-body",
        filters=[strip],
        validators=[Required("请填写追问内容。"), TextLength(max=500, message="追问内容不超过 500 个字。")],
    )
    submit = SubmitField("提交追问")


class LoginForm(PortalForm):
    """Staff sign-in."""

    username = StringField(
        "用户名", filters=[fold], validators=[Required("请填写用户名。"), TextLength(max=64, message="用户名过长。")]
    )
    password = PasswordField(
        "密码", validators=[DataRequired("请填写密码。"), Length(max=256, message="密码过长。")]
    )
    submit = SubmitField("登录")


class RouteForm(PortalForm):
    """The office sends a question to a department."""

    department = SelectField("转交部门", choices=[], validate_choice=False, validators=[Required("请选择部门。")])
    co_departments = SelectMultipleField("协办部门（可多选，可不选）", choices=[], validate_choice=False)
    note = StringField(
        "分办说明（内部）", filters=[strip], validators=[TextLength(max=NOTE_MAX, message=f"不超过 {NOTE_MAX} 个字。")]
    )
    submit = SubmitField("转交")


class RejectForm(PortalForm):
    """The office refuses a question; the citizen sees the reason, the note is kept on record only."""

    reason = SelectField(
        "理由（网友查询时可见）",
        id="reject-reason",
        choices=options([("", "请选择")] + list(REJECT_REASONS.items())),
        validate_choice=False,
        validators=[Required("请选择不予受理的理由。")],
    )
    note = StringField(
        "说明（内部，不公开）", id="reject-note", filters=[strip],
        validators=[TextLength(max=NOTE_MAX, message=f"不超过 {NOTE_MAX} 个字。")],
    )
    submit = SubmitField("不予受理")


class ReplyForm(PortalForm):
    """A reply in Markdown, with preview, save, submit-for-review (审核) and publish buttons."""

    body = TextAreaField(
        "答复内容（支持 Markdown）",
        validators=[
            Required("请填写答复内容。"),
            TextLength(BODY_MIN, REPLY_MAX, f"答复内容应为 {BODY_MIN}-{REPLY_MAX} 个字。"),
        ],
    )
    preview = SubmitField("预览")
    save = SubmitField("保存草稿")
    publish = SubmitField("保存并发布")
    submit_review = SubmitField("提交审核")


class PublishForm(PortalForm):
    """Publish a saved reply (a bare CSRF-protected button)."""

    submit = SubmitField("发布答复")


class ReportForm(PortalForm):
    """A citizen reports a published item."""

    reason = RadioField(
        "举报理由",
        choices=options(REPORT_REASONS.items()),
        validate_choice=False,
        validators=[Required("请选择举报理由。")],
    )
    submit = SubmitField("提交举报")


class HideForm(PortalForm):
    """Take a published question off the board; the reason is kept on record."""

    reason = StringField(
        "隐藏理由（内部）",
        id="hide-reason",
        filters=[strip],
        validators=[Required("请填写隐藏理由。"), TextLength(max=NOTE_MAX, message=f"不超过 {NOTE_MAX} 个字。")],
    )
    submit = SubmitField("从留言板隐藏")


class LogoutForm(PortalForm):
    """Sign out (a POST, so a link cannot sign anyone out)."""

    submit = SubmitField("退出登录")


class TotpForm(PortalForm):
    """The second factor: the authenticator's current 6-digit code."""

    code = StringField(
        "动态验证码（6 位数字）",
        filters=[fold],
        validators=[Required("请输入动态验证码。"), TextLength(max=10, message="动态验证码为 6 位数字。")],
    )
    submit = SubmitField("验证")


class SubscribeForm(PortalForm):
    """Subscribe an e-mail address to all bulletins or one incident."""

    email = StringField("电子邮箱", filters=[strip], validators=[
        Required("请填写电子邮箱。"), TextLength(max=254, message="电子邮箱过长。")])
    incident = SelectField("订阅范围", choices=[], validate_choice=False)
    submit = SubmitField("订阅")
