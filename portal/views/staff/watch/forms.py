"""Forms of the watch desk; choices are checked again by the services, with Chinese messages."""

from __future__ import annotations

from wtforms import BooleanField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import NumberRange, Optional

from portal.views.forms import PortalForm, strip


class SourceForm(PortalForm):
    """A source: feed URL, or a page patrolled by hand."""

    name = StringField("名称", filters=[strip])
    platform = SelectField("平台类型", validate_choice=False)
    region = SelectField("地区", validate_choice=False)
    department_id = SelectField("巡查部门", validate_choice=False)
    feed_url = StringField("订阅地址（RSS、Atom、JSON Feed 或 RSSHub 路由；人工巡查的留空）", filters=[strip])
    html_url = StringField("网页地址", filters=[strip])
    interval_minutes = IntegerField("抓取间隔（分钟，留空用默认值）", validators=[Optional()])
    extract_selector = StringField("正文选择器（CSS，可选）", filters=[strip])


class PlanForm(PortalForm):
    """A watch plan."""

    name = StringField("方案名称", filters=[strip])
    any_words = TextAreaField("任一词（每行一个，或用逗号分隔）")
    must_words = TextAreaField("必含词")
    exclude_words = TextAreaField("排除词")
    fields = SelectMultipleField("匹配范围", choices=[("title", "标题"), ("text", "正文"), ("author", "作者")],
                                 validate_choice=False)
    platforms = SelectMultipleField("限定平台（不选为全部）", validate_choice=False)
    regions = SelectMultipleField("限定地区（不选为全部）", validate_choice=False)
    severity = SelectField("级别", validate_choice=False)
    department_id = SelectField("建议部门", validate_choice=False)
    alert_urls = TextAreaField("推送地址（Apprise 格式，每行一个）")
    active = BooleanField("启用", default=True)


class ReapplyForm(PortalForm):
    """Re-apply a plan to recent items."""

    days = IntegerField("最近天数", default=7, validators=[NumberRange(1, 90, "天数应在 1 到 90 之间。")])


class CaptureForm(PortalForm):
    """A page a commentator found by hand: its address, and the source it is on."""

    url = StringField("网页地址", filters=[strip])
    source_id = SelectField("所在信息源（不选时按网址的域名判断）", validate_choice=False)


class ChannelForm(PortalForm):
    """Apprise URLs to add to a department's alert channels."""

    department_id = SelectField("部门", validate_choice=False)
    alert_urls = TextAreaField("推送地址（Apprise 格式，每行一个）")
