"""Every audit action the services write has a Chinese label on the staff pages (issue 16, item 9): a new action
must not reach the audit log and the histories as a bare code."""

from __future__ import annotations

import re
from pathlib import Path

from portal.views.staff.audit_text import ACTIONS

ROOT = Path(__file__).resolve().parents[1]
# The action of audit.record(session, actor, "<action>", ...): a dotted code among the call's first arguments.
CALL = re.compile(r"audit\.record\((.{0,200}?)(?:\)|$)", re.S)
CODE = re.compile(r'"([a-z_]+(?:\.[a-z_]+)+)"')


def _actions_written() -> set[str]:
    found = set()
    for path in (ROOT / "portal").rglob("*.py"):
        for call in CALL.finditer(path.read_text(encoding="utf-8")):
            found.update(CODE.findall(call.group(1)[:160]))
    return found


def test_the_services_write_audit_actions_that_this_test_can_see():
    written = _actions_written()
    assert {"question.routed", "user.updated", "update.published"} <= written


def test_every_audit_action_written_has_a_chinese_label():
    missing = sorted(_actions_written() - set(ACTIONS))
    assert not missing, f"add labels to portal/views/staff/audit_text.py for: {missing}"
