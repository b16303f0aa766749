"""The text door (portal.text): what is removed, what counts as visible, what folds; and that every form uses it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

import portal.views
from portal import text
from portal.views.forms import PortalForm, Required, TextLength


@pytest.mark.parametrize(
    "raw",
    ["\uffff", "\ufffe", "\ufdd0", "\U0001fffe", "\U0010ffff", "\ud800", "\udfff", "\x00", "\x0b", "\x1f", "\x85"],
    ids=["FFFF", "FFFE", "FDD0", "1FFFE", "10FFFF", "lone-high", "lone-low", "NUL", "VT", "US", "C1-NEL"],
)
def test_the_door_removes_what_xml_forbids(raw):
    assert text.clean(f"路灯{raw}不亮") == "路灯不亮"
    # The writers' guard removes what XML forbids; C1 controls are allowed in XML and only the door drops them.
    assert text.xml_safe(f"路灯{raw}不亮") == (f"路灯{raw}不亮" if raw == "\x85" else "路灯不亮")


def test_the_door_keeps_tab_and_newline_and_normalises_line_ends():
    assert text.clean("第一行\r\n第二行\r第三行\t完") == "第一行\n第二行\n第三行\t完"
    assert text.clean("e\u0301") == "\u00e9"  # NFC


@pytest.mark.parametrize(
    ("value", "visible"),
    [
        ("\u200b" * 6, 0),
        ("\u3000 \t\n", 0),
        ("\u3164\u115f\u2800\ufeff\u2060\u200d\u200e\u00ad", 0),  # fillers, BOM, joiners, marks, soft hyphen
        ("路灯\u200b不亮", 4),
        ("e\u0301", 1),
        ("👍🏽", 2),
    ],
)
def test_visible_length_counts_what_a_reader_sees(value, visible):
    assert text.visible_length(value) == visible
    assert text.is_blank(value) == (visible == 0)


def test_width_folding_is_for_codes_and_numbers():
    assert text.fold_width("６ＴＪＤ－ＰＬＲ３") == "6TJD-PLR3"
    assert text.digits("２０２６ １１２５ ０００１２") == "2026112500012"
    assert text.fold_width("　１２３４５６　") == "123456"


def _form_classes():
    for info in pkgutil.walk_packages(portal.views.__path__, "portal.views."):
        module = importlib.import_module(info.name)
        for _name, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == module.__name__ and hasattr(obj, "_unbound_fields") and obj is not PortalForm:
                yield obj


def test_every_form_passes_the_text_door_and_counts_visible_characters(app):
    forms = list(_form_classes())
    assert len(forms) > 25
    with app.test_request_context():
        for cls in forms:
            assert issubclass(cls, PortalForm), f"{cls.__name__} is not a PortalForm"
            form = cls(formdata=None, meta={"csrf": False})
            for field in form:
                if not isinstance(field, StringField) or isinstance(field, PasswordField):
                    continue
                assert field.filters[0].__name__ == "clean", f"{cls.__name__}.{field.name} skips the text door"
                for validator in field.validators:
                    assert not isinstance(validator, DataRequired | Length), (
                        f"{cls.__name__}.{field.name} counts invisible characters: use Required / TextLength"
                    )
                    assert isinstance(validator, Required | TextLength) or validator.__class__.__name__ == "Optional"
