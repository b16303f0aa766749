"""Departments on the admin's screen: the list, add, rename (the old name stays in history), retire and merge."""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for
from flask_login import current_user
from wtforms import SelectField, StringField, SubmitField, TextAreaField

from portal.errors import PortalError, ValidationFailed
from portal.extensions import db
from portal.models import Department
from portal.models.staff import ROLE_ADMIN
from portal.numbers import parse_positive_int
from portal.services.board import departments
from portal.views.common import apply_reasons, roles_required
from portal.views.forms import PortalForm, TextLength, options, strip
from portal.views.staff import bp

REASON = [TextLength(max=500, message="不超过 500 个字。")]


class DepartmentForm(PortalForm):
    name = StringField("部门名称", filters=[strip], validators=[TextLength(max=100, message="不超过 100 个字。")])
    slug = StringField("网址标识（小写字母、数字、连字符，如 qsz）", filters=[strip],
                       validators=[TextLength(max=40, message="不超过 40 个字符。")])
    description = TextAreaField("简介（可不填）", filters=[strip],
                                validators=[TextLength(max=2000, message="不超过 2000 个字。")])
    submit = SubmitField("新增部门")


class RenameForm(PortalForm):
    name = StringField("新名称", filters=[strip], validators=[TextLength(max=100, message="不超过 100 个字。")])
    submit = SubmitField("更名")


class RetireForm(PortalForm):
    reason = StringField("撤销原因（记入操作日志）", filters=[strip], validators=REASON)
    submit = SubmitField("撤销部门")


class MergeForm(PortalForm):
    target = SelectField("并入部门", choices=[], validate_choice=False)
    reason = StringField("合并原因（记入操作日志）", filters=[strip], validators=REASON)
    submit = SubmitField("合并")


def _department(department_id: int) -> Department:
    department = db.session.get(Department, department_id)
    if department is None:
        abort(404)
    return department


def _list_page(form: DepartmentForm | None = None, status: int = 200, errors=()):
    return render_template("staff/departments/list.html", departments=departments.all_departments(db.session),
                           form=form or DepartmentForm(formdata=None), errors=list(errors)), status


def _merge_form(department: Department, formdata: bool = False) -> MergeForm:
    form = MergeForm() if formdata else MergeForm(formdata=None)
    others = [d for d in departments.all_departments(db.session) if d.active and d.id != department.id]
    form.target.choices = options([("", "请选择")] + [(str(d.id), d.name) for d in others])
    return form


def _edit_page(department: Department, status: int = 200, errors=(), **forms):
    return render_template(
        "staff/departments/edit.html", department=department, errors=list(errors),
        open_count=departments.open_question_count(db.session, department),
        rename_form=forms.get("rename_form") or RenameForm(formdata=None),
        retire_form=forms.get("retire_form") or RetireForm(formdata=None),
        merge_form=forms.get("merge_form") or _merge_form(department),
    ), status


@bp.get("/departments")
@roles_required(ROLE_ADMIN)
def department_list():
    """Every department with its state and former names, and the form to add one."""
    return _list_page()


@bp.post("/departments")
@roles_required(ROLE_ADMIN)
def department_add():
    """Add a department."""
    form = DepartmentForm()
    if not form.validate():
        return _list_page(form, 400)
    try:
        department = departments.add_department(db.session, current_user, form.name.data or "", form.slug.data or "",
                                                form.description.data or "")
    except ValidationFailed as exc:
        db.session.rollback()
        return _list_page(form, 400, apply_reasons(form, exc.reasons))
    return redirect(url_for("staff.department_edit", department_id=department.id), 303)


@bp.get("/departments/<int:department_id>")
@roles_required(ROLE_ADMIN)
def department_edit(department_id: int):
    """One department: rename, retire, merge."""
    return _edit_page(_department(department_id))


def _act(department: Department, form: PortalForm, form_name: str, action):
    if not form.validate():
        return _edit_page(department, 400, **{form_name: form})
    try:
        action()
    except ValidationFailed as exc:
        db.session.rollback()
        return _edit_page(department, 400, apply_reasons(form, exc.reasons), **{form_name: form})
    except PortalError as exc:
        db.session.rollback()
        return _edit_page(department, exc.status_code, [exc.message], **{form_name: form})
    return redirect(url_for("staff.department_edit", department_id=department.id), 303)


@bp.post("/departments/<int:department_id>/rename")
@roles_required(ROLE_ADMIN)
def department_rename(department_id: int):
    """Rename; answers keep the name they were given under."""
    department = _department(department_id)
    form = RenameForm()
    return _act(department, form, "rename_form",
                lambda: departments.rename_department(db.session, current_user, department, form.name.data or ""))


@bp.post("/departments/<int:department_id>/retire")
@roles_required(ROLE_ADMIN)
def department_retire(department_id: int):
    """Retire (refused while the department leads open questions)."""
    department = _department(department_id)
    form = RetireForm()
    return _act(department, form, "retire_form",
                lambda: departments.retire_department(db.session, current_user, department, form.reason.data or ""))


@bp.post("/departments/<int:department_id>/merge")
@roles_required(ROLE_ADMIN)
def department_merge(department_id: int):
    """Merge into another department."""
    department = _department(department_id)
    form = _merge_form(department, formdata=True)

    def merge():
        target_id = parse_positive_int(form.target.data or "", 10**9)
        target = db.session.get(Department, target_id) if target_id else None
        if target is None:
            raise ValidationFailed({"target": "请选择并入的部门。"})
        departments.merge_department(db.session, current_user, department, target, form.reason.data or "")

    return _act(department, form, "merge_form", merge)
