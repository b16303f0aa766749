"""Accounts: the admin creates, edits, disables and resets accounts; the registry (备案) per department;
every user's own password change. Each change of rights ends the user's sessions."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from portal.errors import NotFound, PortalError, ValidationFailed
from portal.extensions import db
from portal.models import StaffUser
from portal.models.staff import ROLE_ADMIN, ROLES
from portal.numbers import parse_positive_int
from portal.services.accounts import admin_accounts
from portal.services.board import listing
from portal.views.common import apply_reasons, roles_required
from portal.views.forms import CsrfForm, PortalForm, Required, TextLength, options, strip
from portal.views.staff import ALL_ROLES, bp


class AccountForm(PortalForm):
    username = StringField("用户名", filters=[strip], validators=[TextLength(max=64, message="用户名过长。")])
    display_name = StringField("姓名/署名", filters=[strip],
                               validators=[TextLength(max=64, message="不超过 64 个字。")])
    role = SelectField("角色", choices=[], validate_choice=False, validators=[Required("请选择角色。")])
    department = SelectField("部门", choices=[], validate_choice=False)
    email = StringField("通知邮箱（可不填）", filters=[strip],
                        validators=[Optional(), TextLength(max=200, message="邮箱过长。")])
    password = PasswordField("初始密码（至少 10 位）", validators=[Length(max=256, message="密码过长。")])
    submit = SubmitField("保存")


class DisableForm(PortalForm):
    reason = StringField("停用理由", filters=[strip], validators=[TextLength(max=500, message="不超过 500 个字。")])
    submit = SubmitField("停用账号")


class ResetPasswordForm(PortalForm):
    password = PasswordField("新密码（至少 10 位）",
                             validators=[DataRequired("请填写新密码。"), Length(max=256, message="密码过长。")])
    reason = StringField("重置原因（必填，记入操作日志）", filters=[strip], id="password-reason",
                         validators=[TextLength(max=500, message="不超过 500 个字。")])
    submit = SubmitField("重置密码")


class ResetTotpForm(PortalForm):
    reason = StringField("重置原因（必填，记入操作日志）", filters=[strip], id="totp-reason",
                         validators=[TextLength(max=500, message="不超过 500 个字。")])
    submit = SubmitField("解除验证器绑定")


class ChangePasswordForm(PortalForm):
    current = PasswordField("当前密码", validators=[DataRequired("请填写当前密码。"), Length(max=256)])
    new = PasswordField("新密码（至少 10 位）", validators=[DataRequired("请填写新密码。"), Length(max=256)])
    repeat = PasswordField("再次输入新密码", validators=[DataRequired("请再次输入新密码。"), Length(max=256)])
    submit = SubmitField("修改密码")


def _account_form(formdata: bool = False, user: StaffUser | None = None) -> AccountForm:
    form = AccountForm() if formdata else AccountForm(formdata=None)
    form.role.choices = options([("", "请选择")] + list(ROLES.items()))
    form.department.choices = options([("", "（无）")] + [(str(d.id), d.name) for d in listing.departments(db.session)])
    if user is not None and not formdata:
        form.username.data = user.username
        form.display_name.data = user.display_name
        form.role.data = user.role
        form.department.data = str(user.department_id or "")
        form.email.data = user.email or ""
    return form


def _user(user_id: int) -> StaffUser:
    try:
        return admin_accounts.get_user(db.session, user_id)
    except NotFound:
        abort(404)


def _dept(form: AccountForm) -> int | None:
    return parse_positive_int(form.department.data or "", 10**9)


@bp.get("/users/registry")
@roles_required(ROLE_ADMIN)
def registry():
    """Each department's registered staff accounts (备案表)."""
    return render_template("staff/accounts/registry.html", groups=admin_accounts.registry(db.session), roles=ROLES)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(ROLE_ADMIN)
def user_new():
    """Create an account."""
    form = _account_form(request.method == "POST")
    errors: list[str] = []
    if request.method == "POST":
        if form.validate():
            try:
                user = admin_accounts.create(
                    db.session, current_user, form.username.data or "", form.display_name.data or "",
                    form.password.data or "", form.role.data or "", _dept(form), form.email.data or "",
                )
            except ValidationFailed as exc:
                db.session.rollback()
                errors = apply_reasons(form, exc.reasons)
            else:
                flash(f"已创建账号 {user.username}。", "info")
                return redirect(url_for("staff.users"), 303)
        form.password.data = ""
        return render_template("staff/accounts/edit.html", form=form, user=None, errors=errors), 400
    return render_template("staff/accounts/edit.html", form=form, user=None, errors=errors)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(ROLE_ADMIN)
def user_edit(user_id: int):
    """Edit an account; disable, enable, reset its password or its authenticator."""
    user = _user(user_id)
    form = _account_form(request.method == "POST", user)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                admin_accounts.update(db.session, current_user, user, form.display_name.data or "",
                                      form.role.data or "", _dept(form), form.email.data or "")
            except ValidationFailed as exc:
                db.session.rollback()
                errors = apply_reasons(form, exc.reasons)
            else:
                flash("已保存。", "info")
                return redirect(url_for("staff.user_edit", user_id=user.id), 303)
        status = 400
    return _edit_page(user, form, errors, status)


def _edit_page(user: StaffUser, form: AccountForm | None = None, errors=(), status: int = 200, **forms):
    return render_template(
        "staff/accounts/edit.html", form=form or _account_form(False, user), user=user, errors=list(errors),
        disable_form=DisableForm(formdata=None), reset_form=forms.get("reset_form") or ResetPasswordForm(formdata=None),
        totp_form=forms.get("totp_form") or ResetTotpForm(formdata=None), plain_form=CsrfForm(formdata=None),
    ), status


def _reset(user_id: int, form: PortalForm, form_name: str, run, done: str):
    """A reset that needs a reason: refused input re-renders the page with the message by its field."""
    user = _user(user_id)
    if not form.validate():
        return _edit_page(user, status=400, **{form_name: form})
    try:
        run(user)
    except ValidationFailed as exc:
        db.session.rollback()
        if hasattr(form, "password"):
            form.password.data = ""
        return _edit_page(user, errors=apply_reasons(form, exc.reasons), status=400, **{form_name: form})
    except PortalError as exc:
        db.session.rollback()
        return _edit_page(user, errors=[exc.message], status=exc.status_code, **{form_name: form})
    flash(done, "info")
    return redirect(url_for("staff.user_edit", user_id=user.id), 303)


def _action(user_id: int, run):
    user = _user(user_id)
    try:
        run(user)
    except PortalError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("staff.user_edit", user_id=user.id), 303)


@bp.post("/users/<int:user_id>/disable")
@roles_required(ROLE_ADMIN)
def user_disable(user_id: int):
    """Disable the account; its sessions end at once."""
    form = DisableForm()
    if not form.validate():
        abort(400)
    return _action(user_id, lambda u: admin_accounts.set_active(db.session, current_user, u, False,
                                                                 form.reason.data or ""))


@bp.post("/users/<int:user_id>/enable")
@roles_required(ROLE_ADMIN)
def user_enable(user_id: int):
    if not CsrfForm().validate():
        abort(400)
    return _action(user_id, lambda u: admin_accounts.set_active(db.session, current_user, u, True, ""))


@bp.post("/users/<int:user_id>/password")
@roles_required(ROLE_ADMIN)
def user_reset_password(user_id: int):
    """Set a new password for the user; their sessions end."""
    form = ResetPasswordForm()
    return _reset(user_id, form, "reset_form", lambda u: admin_accounts.reset_password(
        db.session, current_user, u, form.password.data or "", form.reason.data or ""),
        "密码已重置，该账号的所有登录已失效。")


@bp.post("/users/<int:user_id>/totp-reset")
@roles_required(ROLE_ADMIN)
def user_reset_totp(user_id: int):
    """Forget the user's authenticator; they enrol a new one at next sign-in."""
    form = ResetTotpForm()
    return _reset(user_id, form, "totp_form", lambda u: admin_accounts.reset_totp(
        db.session, current_user, u, form.reason.data or ""), "已解除验证器绑定，该账号下次登录时重新绑定。")


@bp.route("/account/password", methods=["GET", "POST"])
@roles_required(*ALL_ROLES)
def change_password():
    """Change one's own password; every session of this account ends, this one included."""
    form = ChangePasswordForm() if request.method == "POST" else ChangePasswordForm(formdata=None)
    errors: list[str] = []
    if request.method == "POST":
        if form.validate():
            try:
                admin_accounts.change_own_password(db.session, current_user._get_current_object(),
                                                   form.current.data or "", form.new.data or "", form.repeat.data or "")
            except ValidationFailed as exc:
                db.session.rollback()
                errors = apply_reasons(form, exc.reasons)
            else:
                logout_user()
                session.clear()
                flash("密码已修改，请用新密码重新登录。", "info")
                return redirect(url_for("auth.login"), 303)
        return render_template("staff/accounts/password.html", form=form, errors=errors), 400
    return render_template("staff/accounts/password.html", form=form, errors=errors)
