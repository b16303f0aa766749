"""Closing the loop on watched items in a real browser: an answer under a registered screen name (an unregistered
one refused), the item in the ledger with channel and platform, the patrol page, the yearly assessment; axe on
each page and no horizontal overflow at 1280 and 390 px (tables at 1280 px fit without scrolling)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `site` fixture skips (or fails when the browser tests are required) with the reason
    expect = None

from .conftest import ROOT, WIDTHS, login, shoot
from .test_accessibility import _axe_path, _violations

DEPARTMENT = "云溪县住房和城乡建设局"  # the demo responder's department
ITEM_TITLE = "锦华苑小区地下车库积水严重无人处理"
HAND_SOURCE = "云溪论坛民生版（人工巡查）"
SEED = f"""
from datetime import timedelta
from sqlalchemy import select
from portal import create_app
from portal.extensions import db
from portal.models import Department, ScreenName, StaffUser, WatchCluster, WatchItem, WatchSighting, WatchSource
from portal.services.clock import rule_from_config
from portal.services.watch.textclean import content_hash
from portal.timeutil import to_beijing, utcnow
app = create_app()
with app.app_context():
    dept = db.session.scalar(select(Department).where(Department.name == {DEPARTMENT!r}))
    responder = db.session.scalar(select(StaffUser).where(StaffUser.username == "responder"))
    hand = WatchSource(name={HAND_SOURCE!r}, platform="论坛", department_id=dept.id, html_url="http://bbs.yunxi.example/")
    weibo = WatchSource(name="云溪发布微博评论区", platform="微博", department_id=dept.id,
                        feed_url="http://127.0.0.1:9/weibo.rss", html_url="http://weibo.example/yunxi")
    db.session.add_all([hand, weibo])
    db.session.flush()
    now = utcnow()
    def item(title, source, seen, **kw):
        c = WatchCluster(first_seen_at=seen, title=title)
        db.session.add(c)
        db.session.flush()
        it = WatchItem(source_id=source.id, url="http://bbs.yunxi.example/thread-%d.html" % c.id,
                       url_key="browser-%d" % c.id, content_hash=content_hash(title, title), title=title,
                       text=title + "。已经一周了，请有关部门尽快处理。", first_seen_at=seen, department_id=dept.id,
                       cluster_id=c.id, **kw)
        db.session.add(it)
        db.session.flush()
        db.session.add(WatchSighting(item_id=it.id, source_id=source.id, seen_at=seen, url=it.url))
        return it
    item({ITEM_TITLE!r}, hand, now - timedelta(hours=1), status="pending")
    # One already closed this year, so the assessment has watched items next to the demo's questions.
    seen = now - timedelta(hours=30)
    done = item("城东菜市场排水沟堵塞", weibo, seen, status="closed", assigned_at=seen + timedelta(minutes=20),
                due_at=rule_from_config(app.config).due_at(seen), answered_at=seen + timedelta(hours=2), grade="好")
    db.session.add(ScreenName(platform="论坛", name="云溪住建小助手", staff_user_id=responder.id,
                              department_id=dept.id, registered_on=to_beijing(now).date()))
    db.session.commit()
    print(dept.id)
"""
STAFF_TABLE_PAGES = ["/staff/ledger", "/staff/stats", "/staff/watch", "/staff/watch/patrol", "/staff/screen-names",
                     "/staff/assessment", "/staff/memos", "/staff/desk", "/staff/clock", "/staff/watch/sources"]


@pytest.fixture(scope="module")
def watch_site(site):
    """The site with a department's watched sources, a pending item and a registered screen name."""
    if "watch_seeded" not in site.state:
        result = subprocess.run([sys.executable, "-c", SEED], cwd=ROOT, env=site.env, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stderr
        site.state["watch_seeded"] = True
    return site


def _overflow(page) -> dict:
    """Horizontal overflow of the document, and of each table box (scrolling inside its region)."""
    return page.evaluate("""() => ({
        doc: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        tables: [...document.querySelectorAll('.table-scroll')].map(b => b.scrollWidth - b.clientWidth)
            .filter(d => d > 1).length,
    })""")


def test_commentator_answers_under_a_registered_screen_name_and_the_office_sees_it(new_context, watch_site):
    site = watch_site
    office = new_context(WIDTHS["desktop"]).new_page()
    login(office, site, "office")
    office.goto("/staff/watch")
    office.get_by_role("link", name=ITEM_TITLE).first.click()
    office.locator("#assign-department").select_option(label=DEPARTMENT)
    office.get_by_role("button", name="交办", exact=True).click()
    expect(office.locator(".facts strong.status-assigned")).to_have_text("已交办")
    item_url = office.url

    phone = new_context(WIDTHS["phone"]).new_page()
    login(phone, site, "responder")
    phone.goto(item_url)
    phone.locator("#answer-screen-name").fill("热心网友123")
    phone.locator("#answer-url").fill("http://bbs.yunxi.example/thread-1-reply.html")
    phone.locator("#answer-text").fill("网友您好，我局已安排人员今天下午到锦华苑抽排积水。")
    phone.get_by_role("button", name="登记回应").click()
    expect(phone.locator(".error-summary")).to_contain_text("不是论坛上的备案网名")
    expect(phone.locator("#answer-screen-name")).to_have_attribute("aria-invalid", "true")
    expect(phone.locator("#answer-text")).to_have_value("网友您好，我局已安排人员今天下午到锦华苑抽排积水。")
    shoot(phone, "watch-answer-refused")
    phone.locator("#answer-screen-name").fill("云溪住建小助手")
    phone.get_by_role("button", name="登记回应").click()
    expect(phone.locator(".facts strong.status-responded")).to_have_text("已回应")
    expect(phone.locator("table.answers")).to_contain_text("云溪住建小助手")
    assert _overflow(phone)["doc"] <= 0
    shoot(phone, "watch-item-answered")

    office.goto("/staff/ledger?channel=论坛")
    row = office.locator("table.ledger tbody tr").filter(has_text=ITEM_TITLE)
    expect(row).to_contain_text("论坛")
    expect(row).to_contain_text(HAND_SOURCE)
    expect(row).to_contain_text("已回应")
    assert _overflow(office) == {"doc": 0, "tables": 0}, "the ledger does not fit at 1280 px"
    shoot(office, "ledger-both-channels")


def test_patrol_page_shows_a_source_nobody_patrolled(new_context, watch_site):
    page = new_context(WIDTHS["desktop"]).new_page()
    login(page, watch_site, "office")
    page.goto("/staff/watch/patrol")
    row = page.locator("table.patrol tr").filter(has_text=HAND_SOURCE)
    expect(row.locator("td.missing").first).to_contain_text("未巡查")
    expect(page.get_by_role("heading", name=re.compile(DEPARTMENT + "：上午未巡查"))).to_be_visible()
    shoot(page, "patrol")


def test_assessment_page_with_both_channels(new_context, watch_site):
    page = new_context(WIDTHS["desktop"]).new_page()
    login(page, watch_site, "office")
    page.goto("/staff/assessment")
    row = page.locator("table.assessment tbody tr").filter(has_text=DEPARTMENT)
    cells = row.locator("td")
    assert int(cells.nth(0).inner_text()) > 0 and int(cells.nth(1).inner_text()) > 0  # 本站留言, 监测信息
    expect(cells.nth(6)).to_have_text(re.compile("优秀|良好|合格|不合格"))
    shoot(page, "assessment")


def test_staff_tables_fit_at_1280_and_pages_do_not_overflow_at_390(new_context, watch_site):
    page = new_context(WIDTHS["desktop"]).new_page()
    login(page, watch_site, "office")
    wrong = []
    for path in STAFF_TABLE_PAGES:
        for label, width in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(path)
            found = _overflow(page)
            if found["doc"] > 0 or (label == "desktop" and found["tables"]):
                wrong.append(f"{path} at {width}px: {found}")
    assert not wrong, "horizontal overflow:\n" + "\n".join(wrong)


def test_new_watch_pages_pass_axe(new_context, watch_site):
    axe_js = _axe_path()
    problems = {}
    for label, width in WIDTHS.items():
        page = new_context(width, bypass_csp=True).new_page()
        login(page, watch_site, "office")
        page.goto("/staff/watch")
        page.get_by_role("link", name="城东菜市场排水沟堵塞").first.click()
        paths = [page.url.split(watch_site.base, 1)[1], "/staff/watch/patrol", "/staff/screen-names",
                 "/staff/assessment", "/staff/ledger", "/staff/stats"]
        for path in paths:
            page.goto(path)
            found = _violations(page, axe_js)
            if found:
                problems[f"{path} ({label})"] = found
    assert not problems, "axe:\n" + "\n".join(f"{p}:\n  " + "\n  ".join(f) for p, f in problems.items())
