"""Static security check: bandit finds nothing of medium severity or above (each exception is justified inline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bandit_reports_nothing_at_medium_or_above():
    result = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-r", "portal", "-ll", "-f", "custom",
         "--msg-template", "{relpath}:{line} {test_id} {severity} {msg}"],
        cwd=ROOT, capture_output=True, text=True,
    )
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    assert result.returncode == 0 and not findings, "\n".join(findings)
