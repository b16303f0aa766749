"""Automatic accessibility checks (axe-core in the browser) on the key pages, at phone and desktop widths."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `site` fixture skips (or fails when the browser tests are required) with the reason
    expect = None

from .conftest import ROOT, WIDTHS, login, need_browser, shoot

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


def _report(problems: dict[str, list[str]]) -> str:
    return "axe: serious/critical violations\n" + "\n".join(
        f"{path}:\n  " + "\n  ".join(found) for path, found in problems.items())


def test_printable_memo_passes_axe(new_context, site, axe_js):
    """The forwarding memo (A4, its own stylesheet), made through the console: mark a question major, make the memo."""
    page = new_context(WIDTHS["desktop"], bypass_csp=True).new_page()
    login(page, site, "office")
    page.locator("table.queue a").first.click()
    page.get_by_role("button", name="标记为重大舆情", exact=True).click()
    expect(page.locator("strong.tag.major")).to_have_text("已标记为重大舆情")
    page.goto("/staff/memos")
    page.locator("input[name=ids]").first.check()
    page.locator("#title").fill("青石镇山洪灾后道路抢通相关留言")
    page.locator("#department").select_option(index=1)
    page.locator("#summary").fill("近两日网民集中反映青石镇至县城道路塌方、车辆绕行时间长。")
    page.locator("#suggestion").fill("请县交通运输局核实抢通进度，于今日 18 时前在平台公开答复。")
    page.get_by_role("button", name="生成抄告单").click()
    page.wait_for_url(re.compile(r"/staff/memos/\d+$"))
    memo = urlparse(page.url).path
    problems = {}
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        for path in ["/staff/memos", memo]:
            page.goto(path)
            found = _violations(page, axe_js)
            if found:
                problems[f"{path} ({label})"] = found
    shoot(page, "memo")
    assert not problems, _report(problems)


def test_admin_account_pages_and_totp_enrolment_pass_axe(new_context, site, axe_js):
    """The admin's account pages (list, registry, new with and without errors, edit, own password), then the new
    account's first sign-in: the TOTP enrolment page with its QR code."""
    page = new_context(WIDTHS["phone"], bypass_csp=True).new_page()
    login(page, site, "admin")
    problems = {}

    def check(where, label: str) -> None:
        found = _violations(where, axe_js)
        if found:
            problems[label] = found

    for path in ["/staff/users", "/staff/users/registry", "/staff/users/new", "/staff/account/password",
                 "/staff/departments", "/staff/crisis"]:
        page.goto(path)
        check(page, path)
    page.goto("/staff/users/new")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".field-error").first).to_be_visible()
    check(page, "/staff/users/new (refused)")

    username = f"press-{uuid.uuid4().hex[:6]}"
    password = f"Yunxi-{uuid.uuid4().hex[:12]}"
    page.locator("#username").fill(username)
    page.locator("#display_name").fill("李宣传")
    page.locator("#role").select_option("spokesperson")
    page.locator("#department").select_option(index=1)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="保存", exact=True).click()
    page.wait_for_url(re.compile(r"/staff/users$"))
    check(page, "/staff/users (after creating)")
    page.get_by_role("link", name=username, exact=True).click()
    page.wait_for_url(re.compile(r"/staff/users/\d+$"))
    check(page, urlparse(page.url).path + " (edit)")
    shoot(page, "account-edit")

    # The new spokesperson signs in for the first time: the enrolment page, then the code from its secret.
    import pyotp

    first = new_context(WIDTHS["phone"], bypass_csp=True).new_page()
    first.goto("/login")
    first.locator("#username").fill(username)
    first.locator("#password").fill(password)
    first.get_by_role("button", name="登录", exact=True).click()
    first.wait_for_url(re.compile(r"/login/totp$"))
    expect(first.locator(".totp-qr svg")).to_be_visible()
    check(first, "/login/totp (enrolment)")
    shoot(first, "totp-enrol")
    secret = first.locator(".totp-secret").inner_text().replace(" ", "")
    first.locator("#code").fill(pyotp.TOTP(secret).now())
    first.get_by_role("button", name="绑定并登录").click()
    first.wait_for_url(re.compile(r"/staff/"))
    assert not problems, _report(problems)


def test_export_progress_page_passes_axe(new_context, site, axe_js):
    """The ledger's background export: the form on the ledger page, the progress page while it runs and when done."""
    page = new_context(WIDTHS["phone"], bypass_csp=True).new_page()
    login(page, site, "office")
    page.goto("/staff/ledger?since=2020-01-01&until=2020-12-31")
    problems = {}
    found = _violations(page, axe_js)
    if found:
        problems["/staff/ledger (export form)"] = found
    page.get_by_role("button", name="生成 CSV").click()
    page.wait_for_url(re.compile(r"/staff/ledger/exports/\d+$"))
    found = _violations(page, axe_js)
    if found:
        problems["progress page (running)"] = found
    expect(page.get_by_role("link", name=re.compile("^下载"))).to_be_visible(timeout=120_000)
    found = _violations(page, axe_js)
    if found:
        problems["progress page (done)"] = found
    assert not problems, _report(problems)


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
