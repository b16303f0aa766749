"""Real-browser fixtures: Debian's chromium driven by Playwright against the app under gunicorn.

The site runs on a copy of the migrated SQLite template with the demo content (`flask seed-demo`) and a built
search index (`flask index-worker --once`). Without chromium (or on the PostgreSQL template) the browser tests
skip with the reason; with PORTAL_REQUIRE_BROWSER=1 or CI=true a skip becomes a failure.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from server_helpers import ROOT, copy_sqlite_template, gunicorn, server_env, worker

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
# Playwright's launch() already gives each browser a fresh temporary --user-data-dir (and refuses the flag).
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
WIDTHS = {"phone": 390, "desktop": 1280}
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SECRET_KEY = "browser-test-secret-key-0123456789"
# Rejected questions received in 2020 (never public, never open): enough ledger rows for a background export.
HISTORY_ROWS = 20_000
REQUIRED = os.environ.get("PORTAL_REQUIRE_BROWSER") == "1" or os.environ.get("CI", "").lower() == "true"


def need_browser(reason: str) -> None:
    """Skip with the reason on a developer's machine; fail where the browser tests are required."""
    if REQUIRED:
        pytest.fail(f"{reason} (PORTAL_REQUIRE_BROWSER=1 / CI=true: the browser tests must run)")
    pytest.skip(reason)


@dataclass
class Site:
    """The running site: base URL, the demo accounts' passwords, and state shared between journeys."""

    base: str
    passwords: dict[str, str]
    log: Path
    state: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)  # the server's environment, for a test that adds its own data

    def url(self, path: str) -> str:
        return self.base + path


def _flask(env: dict, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "portal", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _enrol_totp(env: dict, usernames: list[str]) -> None:
    """Store the known authenticator secret for these accounts, as the staff fixture does."""
    code = (
        "import sys\nfrom sqlalchemy import select\nfrom portal import create_app\nfrom portal.extensions import db\n"
        "from portal.models import StaffUser\nfrom portal.services.accounts import totp\napp = create_app()\n"
        "with app.app_context():\n"
        "    for name in sys.argv[1:]:\n"
        "        u = db.session.scalar(select(StaffUser).where(StaffUser.username == name))\n"
        f"        u.totp_secret = totp.encrypt_secret(app.config['SECRET_KEY'], {TOTP_SECRET!r})\n"
        "    db.session.commit()\n"
    )
    subprocess.run([sys.executable, "-c", code, *usernames], cwd=ROOT, env=env, check=True, timeout=120)


def _add_history(env: dict, count: int) -> None:
    """Add `count` rejected questions received in 2020, twenty minutes apart (one insert, no ORM hooks)."""
    code = (
        "import sys\nfrom datetime import UTC, datetime, timedelta\nfrom sqlalchemy import insert\n"
        "from portal import create_app\nfrom portal.extensions import db\nfrom portal.models import Question\n"
        "app = create_app()\nstart = datetime(2020, 1, 1, 1, tzinfo=UTC)\n"
        "rows = [dict(number=f'2020{i:09d}', title=f'历史留言第{i}条', body='历史留言的内容。' * 4, category='咨询',"
        " status='rejected', reject_reason='spam', received_at=start + timedelta(minutes=20 * i),"
        " closed_at=start + timedelta(minutes=20 * i + 60), updated_at=start) for i in range(int(sys.argv[1]))]\n"
        "with app.app_context():\n"
        "    db.session.execute(insert(Question.__table__), rows)\n"
        "    db.session.commit()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(count)], cwd=ROOT, env=env, check=True, timeout=300)


@pytest.fixture(scope="session")
def site(database_template, tmp_path_factory):
    """gunicorn (deploy config, 2 workers) on a seeded copy of the SQLite template."""
    if database_template[0] != "sqlite":
        pytest.skip("the browser tests serve the SQLite template under gunicorn")
    if not Path(CHROMIUM).exists():
        need_browser(f"chromium is not installed at {CHROMIUM} (apt-get install chromium fonts-wqy-microhei)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        need_browser("the playwright package is not installed (pip install -e '.[test]')")
    workdir = tmp_path_factory.mktemp("browser-site")
    db_path = copy_sqlite_template(database_template, workdir / "portal.db",
                                   "the browser tests serve the SQLite template under gunicorn")
    env = server_env(
        db_path, workdir, SECRET_KEY,
        PORTAL_ARGON2_TIME_COST="1",
        PORTAL_RATELIMIT_ASK="1000 per hour",
        PORTAL_RATELIMIT_LOGIN="1000 per minute",
        PORTAL_RATELIMIT_TOTP="1000 per minute",
        PORTAL_RATELIMIT_TRACK="1000 per minute",
        PORTAL_ASK_QUOTA_PER_HOUR="1000",
    )
    seeded = _flask(env, "seed-demo")
    passwords = dict(re.findall(r"^\s+(\w+)\s.*密码：(\S+)\s*$", seeded, re.M))
    assert {"admin", "office", "responder", "spokesperson"} <= passwords.keys(), seeded
    _enrol_totp(env, ["admin", "spokesperson"])
    _add_history(env, HISTORY_ROWS)
    _flask(env, "index-worker", "--once")
    log_path = workdir / "gunicorn.log"
    with gunicorn(env, log_path) as base, worker(env, workdir / "worker.log"):
        yield Site(base=base, passwords=passwords, log=log_path, env=env)


@pytest.fixture(scope="session")
def browser(site):
    """One headless chromium for the session (Debian's binary; Playwright never downloads one)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()
    count = len(list(SCREENSHOTS.glob("*.png"))) if SCREENSHOTS.exists() else 0
    print(f"\nbrowser tests: {count} screenshots in {SCREENSHOTS.relative_to(ROOT)}/")


@pytest.fixture
def new_context(browser, site):
    """Make browser contexts (closed after the test); width picks the phone or desktop viewport."""
    made = []

    def factory(width: int = WIDTHS["desktop"], **options):
        context = browser.new_context(
            base_url=site.base, viewport={"width": width, "height": 900}, locale="zh-CN",
            timezone_id="Asia/Shanghai", **options,
        )
        context.set_default_timeout(15_000)
        made.append(context)
        return context

    yield factory
    for context in made:
        context.close()


@pytest.fixture
def page(new_context):
    """A desktop page."""
    return new_context().new_page()


def shoot(page, name: str) -> None:
    """Full-page screenshots of the current page at phone and desktop widths, saved as run artifacts."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(original)


def login(page, site: Site, username: str) -> None:
    """Sign in through the real forms, with the authenticator's code when the page asks for it."""
    from totp_helpers import authenticator_code

    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(site.passwords[username])
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_load_state()
    if "/login/totp" in page.url:
        page.locator("#code").fill(authenticator_code(TOTP_SECRET))  # a code is accepted once: the next unused one
        page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/staff/"))
