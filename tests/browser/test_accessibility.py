"""Automatic accessibility checks (axe-core in the browser) on the key pages, at phone and desktop widths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import ROOT, WIDTHS, login, need_browser

PUBLIC_PAGES = ["/", "/questions", "/ask", "/track", "/search?q=路灯", "/incidents", "/incidents/qingshi-flood",
                "/stats", "/media", "/subscribe", "/pages/about", "/login", "/news", "/news/qingshi-recovery-progress",
                "/news/rumour-shimen-reservoir", "/press/conferences", "/press/contacts"]
STAFF_PAGES = {"office": ["/staff/", "/staff/desk", "/staff/stats", "/staff/ledger", "/staff/clock"],
               "spokesperson": ["/staff/bulletins", "/staff/bulletins/1"]}
SERIOUS = ("serious", "critical")
# Moderate findings that the issue names explicitly (headings in order, landmarks) fail too.
ALSO_FAIL = {"heading-order", "landmark-one-main", "landmark-unique", "page-has-heading-one", "region",
             "landmark-no-duplicate-banner", "landmark-no-duplicate-contentinfo", "empty-heading"}


def _axe_path() -> Path:
    """axe.min.js from node_modules, or PORTAL_AXE_JS (.ci/run installs it from the npm registry)."""
    for candidate in [ROOT / "node_modules/axe-core/axe.min.js", os.environ.get("PORTAL_AXE_JS", ""),
                      ROOT / ".ci/node/node_modules/axe-core/axe.min.js"]:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    need_browser("axe-core is not installed (npm install --no-save --prefix .ci/node axe-core@4, "
                 "or set PORTAL_AXE_JS to axe.min.js)")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def axe_js():
    return _axe_path()


def _violations(page, axe_js: Path) -> list[str]:
    page.add_script_tag(path=str(axe_js))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    found = []
    for v in result["violations"]:
        if v["impact"] in SERIOUS or v["id"] in ALSO_FAIL:
            targets = "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
            found.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])} nodes): {v['help']} -> {targets}")
    return found


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_public_pages_pass_axe(new_context, site, axe_js, width):
    # The site's CSP forbids injected scripts; bypass_csp is for these axe runs only.
    page = new_context(width, bypass_csp=True).new_page()
    problems = {}
    for path in PUBLIC_PAGES:
        page.goto(path)
        found = _violations(page, axe_js)
        if found:
            problems[path] = found
    assert not problems, "axe: serious/critical violations\n" + "\n".join(
        f"{path}:\n  " + "\n  ".join(found) for path, found in problems.items())


@pytest.mark.parametrize("username", STAFF_PAGES)
def test_staff_pages_pass_axe(new_context, site, axe_js, username):
    page = new_context(WIDTHS["phone"], bypass_csp=True).new_page()
    login(page, site, username)
    paths = list(STAFF_PAGES[username])
    if username == "office":
        page.goto("/staff/")
        first = page.locator("table.queue a").first
        if first.count():
            paths.append(first.get_attribute("href"))
    problems = {}
    for path in paths:
        page.goto(path)
        found = _violations(page, axe_js)
        if found:
            problems[path] = found
    assert not problems, "axe: serious/critical violations\n" + "\n".join(
        f"{path}:\n  " + "\n  ".join(found) for path, found in problems.items())


def test_the_failing_check_catches_a_real_problem(new_context, site, axe_js):
    """The check itself works: an unlabeled field and low contrast are reported."""
    page = new_context(bypass_csp=True).new_page()
    page.goto("/pages/about")
    page.evaluate("() => { const i = document.createElement('input'); i.type = 'text';"
                  " document.querySelector('main').appendChild(i);"
                  " const p = document.createElement('p'); p.textContent = '浅灰色文字'; p.style.color = '#ccc';"
                  " document.querySelector('main').appendChild(p); }")
    found = " ".join(_violations(page, axe_js))
    assert "label" in found and "color-contrast" in found, found
