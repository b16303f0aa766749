"""The site as people use it, in a real browser: asking, handling, searching, publishing, subscribing."""

from __future__ import annotations

import re
import uuid

try:
    from playwright.sync_api import expect
except ImportError:  # the `site` fixture skips (or fails when the browser tests are required) with the reason
    expect = None

from .conftest import WIDTHS, login, shoot

ROUTE_TO = "云溪县住房和城乡建设局"  # the demo responder's department (the first one after the office)


def _ask(page, title: str, body: str) -> None:
    page.goto("/ask")
    page.locator("#title").fill(title)
    page.locator("#body").fill(body)
    page.locator("#category").select_option(index=1)
    page.get_by_role("button", name="提交留言").click()


def test_citizen_asks_on_a_phone_and_tracks_the_question(new_context, site):
    page = new_context(WIDTHS["phone"]).new_page()
    page.goto("/")
    shoot(page, "home")
    page.get_by_role("link", name="我要留言").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("我要留言")
    shoot(page, "ask")

    # Refused: the body is too short; the page keeps the title and puts the message next to the field.
    title = f"锦华苑小区门口路灯不亮{uuid.uuid4().hex[:4]}"
    _ask(page, title, "太黑了")
    body_field = page.locator("#body")
    expect(body_field).to_have_attribute("aria-invalid", "true")
    error = page.locator("#body-error")
    expect(error).to_be_visible()
    assert "body-error" in (body_field.get_attribute("aria-describedby") or "")
    expect(page.locator("#title")).to_have_value(title)
    expect(body_field).to_have_value("太黑了")
    # The message sits right by the field: in the same .field block, just above the input.
    assert page.locator(".field.has-error").filter(has=page.locator("#body")).locator(".field-error").count() == 1
    shoot(page, "ask-refused")

    page.locator("#body").fill("锦华苑小区东门口的两盏路灯已经坏了一个星期，晚上进出非常不安全，请尽快维修。")
    page.get_by_role("button", name="提交留言").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("留言已提交")
    number = page.locator(".receipt .number").inner_text()
    code = page.locator(".receipt .code").inner_text()
    assert re.fullmatch(r"\d+", number) and re.fullmatch(r"[A-Z0-9-]{14}", code)
    shoot(page, "ask-done")

    page.get_by_role("link", name="查询留言").last.click()
    page.locator("#number").fill(number)
    page.locator("#code").fill(code)
    page.get_by_role("button", name="查询", exact=True).click()
    result = page.locator(".track-result")
    expect(result).to_contain_text(title)
    expect(result).to_contain_text("已受理，待分办")
    shoot(page, "track-result")


def test_staff_route_answer_and_publish(new_context, site):
    # A citizen asks (desktop this time).
    citizen = new_context().new_page()
    title = f"锦华苑小区地下车库漏水{uuid.uuid4().hex[:4]}"
    _ask(citizen, title, "锦华苑小区三号楼地下车库顶板漏水已经两个月，物业一直说在协调，车辆被泡，请主管部门督促处理。")
    expect(citizen.get_by_role("heading", level=1)).to_have_text("留言已提交")
    number = citizen.locator(".receipt .number").inner_text()

    # The office routes it.
    office = new_context().new_page()
    login(office, site, "office")
    expect(office.get_by_role("heading", level=1)).to_have_text("待办留言")
    shoot(office, "staff-queue")
    office.get_by_role("link", name=title, exact=True).click()
    expect(office.get_by_role("heading", level=1)).to_have_text(title)
    office.locator("#department").select_option(label=ROUTE_TO)
    office.get_by_role("button", name="转交", exact=True).click()
    expect(office.locator(".facts")).to_contain_text(ROUTE_TO)
    expect(office.locator(".facts")).to_contain_text("已转交")

    # The responder previews, then submits the reply for review (审核); the office publishes it.
    responder = new_context().new_page()
    login(responder, site, "responder")
    responder.get_by_role("link", name=title, exact=True).click()
    reply = "您好！经核实，我局已责成物业服务企业于本周内完成车库顶板防水维修，并对受损车辆协商赔偿。"
    responder.locator("#body").fill(reply)
    responder.get_by_role("button", name="预览").click()
    expect(responder.locator(".preview")).to_contain_text("车库顶板防水维修")
    expect(responder.locator("#body")).to_have_value(reply)
    shoot(responder, "staff-question")
    responder.get_by_role("button", name="提交审核").click()
    expect(responder.locator(".facts")).to_contain_text("答复审核中")
    office.reload()
    office.get_by_role("button", name="审核通过并发布").click()
    expect(office.locator(".facts")).to_contain_text("已答复")

    # The public board shows it, with the reply.
    citizen.goto("/questions")
    citizen.get_by_role("link", name=title, exact=True).click()
    expect(citizen.locator(".reply")).to_contain_text("车库顶板防水维修")
    expect(citizen.locator(".reply")).to_contain_text(ROUTE_TO)
    site.state["published"] = (number, title)


def test_search_finds_answers_and_ask_suggests_similar(new_context, site):
    page = new_context(WIDTHS["phone"]).new_page()
    page.goto("/questions")
    shoot(page, "board")
    page.locator(".question-list a").first.click()
    expect(page.locator(".reply")).to_be_visible()
    shoot(page, "question-detail")

    page.goto("/")
    page.get_by_label("搜索已答复的留言").fill("路灯")
    page.get_by_label("搜索已答复的留言").press("Enter")
    page.wait_for_url(re.compile(r"/search\?"))
    results = page.locator(".results li")
    expect(results.first).to_be_visible()
    expect(page.locator(".results mark").first).to_have_text(re.compile("路灯"))
    expect(page.locator(".results")).to_contain_text("青石镇解放路路灯长期不亮何时维修")
    shoot(page, "search-results")

    if "published" in site.state:  # the answer published in the previous journey is found too
        _, title = site.state["published"]
        page.goto("/search?q=" + "地下车库漏水")
        expect(page.locator(".results")).to_contain_text(title, timeout=20_000)

    # Typing a title on /ask shows similar answered questions (similar.js + /search/similar).
    page.goto("/ask")
    box = page.locator("#similar")
    expect(box).to_be_hidden()
    page.locator("#title").press_sequentially("解放路路灯不亮", delay=30)
    expect(box).to_be_visible()
    expect(box.get_by_role("link", name="青石镇解放路路灯长期不亮何时维修")).to_be_visible()


def test_spokesperson_publishes_an_update_seen_on_the_incident_page_and_banner(new_context, site):
    page = new_context().new_page()
    login(page, site, "spokesperson")
    page.goto("/staff/bulletins")
    page.get_by_role("main").get_by_role("link", name="青石镇“11·24”强降雨山洪灾害").click()
    title = f"青石镇山洪灾害最新情况（{uuid.uuid4().hex[:4]}）"
    page.locator("#title").fill(title)
    page.locator("#body").fill("截至目前，石门村、河湾村**受灾群众已全部妥善安置**，道路已抢通。")
    page.get_by_role("button", name="预览").click()
    expect(page.locator(".preview strong")).to_have_text("受灾群众已全部妥善安置")
    page.get_by_role("button", name="发布", exact=True).click()
    expect(page.locator(".notice").first).to_be_visible()

    public = new_context(WIDTHS["phone"]).new_page()
    public.goto("/")
    banner = public.get_by_role("region", name="突发事件提示")
    expect(banner).to_contain_text("青石镇“11·24”强降雨山洪灾害")
    banner.get_by_role("link").click()
    page_title = public.get_by_role("heading", level=1)
    expect(page_title).to_have_text("青石镇“11·24”强降雨山洪灾害")
    first = public.locator(".timeline > li").first
    expect(first).to_contain_text(title)
    expect(first.locator("strong")).to_contain_text("受灾群众已全部妥善安置")
    shoot(public, "incident")


def test_media_page_lists_every_feed(new_context, site):
    page = new_context().new_page()
    page.goto("/")
    page.get_by_role("contentinfo").get_by_role("link", name="媒体服务").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("媒体服务")
    hrefs = page.locator("main a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    for path in ["/feeds/bulletins.rss", "/feeds/bulletins.atom", "/incidents/qingshi-flood/feed.rss",
                 "/incidents/qingshi-flood/feed.atom", "/feeds/answers.atom", "/feeds/answers.atom?department=zjj",
                 "/api/v1/incidents", "/api/v1/questions", "/api/v1/openapi.json", "/subscribe"]:
        assert path in hrefs, (path, hrefs)
    shoot(page, "media")
    response = page.request.get("/feeds/answers.atom?department=zjj")
    assert response.ok and "<feed" in response.text()


def test_stats_page(new_context, site):
    page = new_context().new_page()
    page.goto("/stats")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    shoot(page, "stats")


def test_keyboard_reaches_the_skip_link_first_with_a_visible_focus_ring(new_context, site):
    page = new_context(WIDTHS["phone"]).new_page()
    page.goto("/questions")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => ({text: document.activeElement.textContent.trim(),"
                            " href: document.activeElement.getAttribute('href'),"
                            " outline: getComputedStyle(document.activeElement).outlineStyle,"
                            " width: getComputedStyle(document.activeElement).outlineWidth,"
                            " left: document.activeElement.getBoundingClientRect().left})")
    assert focused["text"] == "跳到正文" and focused["href"] == "#main", focused
    assert focused["outline"] != "none" and focused["width"] != "0px", focused
    assert focused["left"] >= 0, "the skip link must come on screen when focused"
    page.keyboard.press("Enter")
    # The next Tab goes into the main content, not back through the header.
    page.keyboard.press("Tab")
    inside = page.evaluate("() => !!document.activeElement.closest('main')")
    assert inside
    # Every control on the ask page can be reached and shows a focus ring.
    page.goto("/ask")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the skip link
    seen = set()
    for _ in range(40):
        page.keyboard.press("Tab")
        info = page.evaluate("() => ({id: document.activeElement.id, tag: document.activeElement.tagName,"
                             " outline: getComputedStyle(document.activeElement).outlineStyle})")
        if info["id"]:
            seen.add(info["id"])
            assert info["outline"] != "none", info
        if info["tag"] == "BUTTON" and "contact" in seen:
            break
    assert {"title", "body", "category", "department", "contact"} <= seen, seen


def test_pages_work_without_javascript(new_context, site):
    context = new_context(WIDTHS["phone"], java_script_enabled=False)
    page = context.new_page()
    for path in ["/", "/questions", "/incidents/qingshi-flood", "/search?q=路灯", "/media", "/stats"]:
        page.goto(path)
        expect(page.get_by_role("heading", level=1).first).to_be_visible()
    _ask(page, "东坪乡小学门口缺少减速带", "东坪乡中心小学门口的公路车速很快，学生上下学过马路很危险，建议设置减速带和警示标志。")
    expect(page.get_by_role("heading", level=1)).to_have_text("留言已提交")
    expect(page.locator(".receipt .code")).to_be_visible()


def test_bulletins_and_answers_print_as_documents(new_context, site):
    page = new_context().new_page()
    page.emulate_media(media="print")
    for path in ["/incidents/qingshi-flood", "/questions"]:
        page.goto(path)
        if path == "/questions":
            page.locator(".question-list a").first.click()
        for chrome in [".site-header", ".site-footer", ".crisis-banner", ".skip-link"]:
            expect(page.locator(chrome)).to_be_hidden()
        expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.pdf(path=str(site.log.parent / "answer.pdf"))  # prints without error (A4 by default)


def test_no_request_leaves_the_site(new_context, site):
    """No CDN, web font or analytics: every request the pages make goes to the site itself."""
    page = new_context(WIDTHS["phone"]).new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    for path in ["/", "/questions", "/ask", "/search?q=路灯", "/incidents/qingshi-flood", "/stats", "/media"]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
    assert requested
    outside = [url for url in requested if not url.startswith(site.base + "/")]
    assert not outside, outside


def test_tap_targets_are_at_least_44px_on_a_phone(new_context, site):
    page = new_context(WIDTHS["phone"]).new_page()
    small = {}
    for path in ["/", "/questions", "/ask", "/track", "/search?q=路灯", "/media"]:
        page.goto(path)
        found = page.evaluate(
            "() => [...document.querySelectorAll('.site-header a, .site-footer a, button, .button, input, select')]"
            ".filter(e => e.offsetParent !== null && !e.closest('.hp') && e.type !== 'hidden')"
            ".map(e => [e.textContent.trim() || e.id || e.name, Math.round(e.getBoundingClientRect().height)])"
            ".filter(([, h]) => h < 44)"
        )
        if found:
            small[path] = found
    assert not small, small
