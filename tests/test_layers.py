"""The house rules of ../shared/DESIGN.md that a reader relies on, checked on the source: which area may import which,
and that no module grows past the size where it should be two."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PORTAL = ROOT / "portal"
SERVICES = PORTAL / "services"

# Lower ranks are imported by higher ones, never the other way; areas of the same rank do not import each other.
# The modules at the root of services/ (audit, the clock, the calendar) are what every area shares.
RANKS = {"": 0, "ops": 1, "accounts": 2, "board": 2, "bulletins": 2, "desk": 3, "press": 3, "watch": 4}
MAX_LINES = 450  # DESIGN.md: "a file that passes ~400 lines is two files"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) for every import in a file, including those inside functions."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            out.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
    return out


def _area(dotted: str) -> str | None:
    """The services area a dotted name lies in ('' for the shared root modules), or None outside services."""
    parts = dotted.split(".")
    if parts[:2] != ["portal", "services"] or len(parts) < 3:
        return None
    return parts[2] if parts[2] in RANKS else ""


def _service_files() -> list[Path]:
    return sorted(p for p in SERVICES.rglob("*.py") if p.name != "__init__.py" or p.parent != SERVICES)


def test_every_services_module_lies_in_a_known_area():
    for path in _service_files():
        rel = path.relative_to(SERVICES)
        if len(rel.parts) > 1:
            assert rel.parts[0] in RANKS, f"{rel}: services/{rel.parts[0]}/ is not an area of DESIGN.md"


@pytest.mark.parametrize("path", _service_files(), ids=lambda p: str(p.relative_to(SERVICES)))
def test_an_area_imports_only_itself_and_the_areas_below_it(path: Path):
    rel = path.relative_to(SERVICES)
    own = rel.parts[0] if len(rel.parts) > 1 else ""
    wrong = []
    for line, dotted in _imports(path):
        if dotted.startswith(("portal.views", "portal.jobs", "portal.cli")) or dotted in {"flask.request",
                                                                                       "flask.session", "flask.g"}:
            wrong.append(f"line {line}: {dotted} (services never import views, jobs, cli or the request)")
            continue
        other = _area(dotted)
        if other is None or other == own:
            continue
        if RANKS[other] >= RANKS[own]:
            wrong.append(f"line {line}: {dotted} ({own or 'root'} may not import {other or 'root'})")
    assert not wrong, f"{rel}:\n" + "\n".join(wrong)


def test_models_import_nothing_from_services_or_views():
    for path in sorted((PORTAL / "models").rglob("*.py")):
        bad = [d for _, d in _imports(path) if d.startswith(("portal.services", "portal.views"))]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_no_module_of_the_portal_grows_past_the_size_where_it_should_be_two():
    too_long = []
    for path in sorted(PORTAL.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not too_long, "split these:\n" + "\n".join(too_long)
