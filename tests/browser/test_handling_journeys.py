"""Review and handling in steps, in a real browser: the responder submits a reply, the office returns it with a
comment, the responder edits it and the office publishes; the citizen's /track page shows an interim reply, an
extension and the supplementary reply to their follow-up."""

from __future__ import annotations

import re
import uuid

try:
    from playwright.sync_api import expect
except ImportError:  # the `site` fixture skips (or fails when the browser tests are required) with the reason
    expect = None

from .conftest import WIDTHS, login, shoot
from .test_journeys import ROUTE_TO, _ask


def _asked(new_context, title: str, body: str) -> tuple[str, str]:
    citizen = new_context().new_page()
    _ask(citizen, title, body)
    expect(citizen.get_by_role("heading", level=1)).to_have_text("留言已提交")
    return citizen.locator(".receipt .number").inner_text(), citizen.locator(".receipt .code").inner_text()


def _routed(new_context, site, title: str):
    office = new_context().new_page()
    login(office, site, "office")
    office.get_by_role("link", name=title, exact=True).click()
    office.locator("#department").select_option(label=ROUTE_TO)
    office.get_by_role("button", name="转交", exact=True).click()
    expect(office.locator(".facts")).to_contain_text("已转交")
    return office


def _responder_opens(new_context, site, title: str):
    responder = new_context().new_page()
    login(responder, site, "responder")
    responder.get_by_role("link", name=title, exact=True).first.click()
    expect(responder.get_by_role("heading", level=1)).to_have_text(title)
    return responder


def _track(page, number: str, code: str) -> None:
    page.goto("/track")
    page.locator("#number").fill(number)
    page.locator("#code").fill(code)
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.locator(".track-result")).to_be_visible()


def test_review_responder_submits_office_returns_responder_edits_office_publishes(new_context, site):
    title = f"城东菜市场噪音扰民{uuid.uuid4().hex[:4]}"
    number, code = _asked(new_context, title, "城东菜市场每天凌晨四点开始卸货，噪音很大，周边居民无法休息，请相关部门管理。")
    office = _routed(new_context, site, title)
    responder = _responder_opens(new_context, site, title)

    # The responder writes and submits: no publish button here, only 提交审核.
    expect(responder.get_by_role("button", name="保存并发布")).to_have_count(0)
    responder.locator("#body").fill("您好！我局已约谈市场管理方，要求调整卸货时间。")
    responder.get_by_role("button", name="提交审核").click()
    expect(responder.locator(".facts")).to_contain_text("答复审核中")
    expect(responder.get_by_role("status").filter(has_text="已提交办公室审核").first).to_be_visible()
    shoot(responder, "review-submitted")

    # The office sees it waiting and returns it with a comment.
    office.goto("/staff/")
    expect(office.locator(".notices")).to_contain_text("待审核答复")
    office.locator(".notices").get_by_role("link", name=re.compile(title)).first.click()
    expect(office.get_by_role("heading", name="待审核的答复")).to_be_visible()
    office.locator("#review-comment").fill("请写明调整后的卸货时间和监督电话。")
    office.get_by_role("button", name="退回修改").click()
    expect(office.locator(".facts")).to_contain_text("答复拟稿中")
    shoot(office, "review-returned")

    # The responder reads the comment, edits the reply and submits again.
    responder.goto("/staff/")
    expect(responder.locator(".notices")).to_contain_text("答复退回修改")
    responder.get_by_role("link", name=title, exact=True).first.click()
    expect(responder.locator(".review-note")).to_contain_text("请写明调整后的卸货时间和监督电话")
    responder.locator("#body").fill("您好！我局已约谈市场管理方，卸货时间调整为早上六点以后，监督电话 0000-1234567。")
    responder.get_by_role("button", name="提交审核").first.click()
    expect(responder.locator(".facts")).to_contain_text("答复审核中")

    # The office publishes; the citizen reads the edited reply.
    office.reload()
    office.get_by_role("button", name="审核通过并发布").click()
    expect(office.locator(".facts")).to_contain_text("已答复")
    citizen = new_context(WIDTHS["phone"]).new_page()
    _track(citizen, number, code)
    expect(citizen.locator(".track-result")).to_contain_text("已答复")
    expect(citizen.locator(".reply")).to_contain_text("早上六点以后")


def test_track_shows_interim_reply_extension_and_supplementary_reply(new_context, site):
    title = f"老城区自来水发黄{uuid.uuid4().hex[:4]}"
    number, code = _asked(new_context, title, "老城区幸福巷一带自来水连续三天发黄，有异味，请问是什么原因，什么时候能恢复？")
    office = _routed(new_context, site, title)
    responder = _responder_opens(new_context, site, title)

    # An interim reply, then an extension asked for and approved by the office.
    responder.locator("#interim-body").fill("已通知供水公司对幸福巷管网取样检测，检测结果出来后答复。")
    responder.get_by_role("button", name="发布阶段性答复").click()
    expect(responder.locator(".thread")).to_contain_text("待办公室审核")
    office.reload()
    office.get_by_role("button", name="通过并公开").click()
    expect(office.locator(".thread")).to_contain_text("取样检测")
    responder.reload()
    responder.locator("#extension-days").fill("2")
    responder.locator("#extension-reason").fill("水质检测需要两个工作日出具报告")
    responder.get_by_role("button", name="申请延期").click()
    expect(responder.locator(".extensions")).to_contain_text("待办公室审批")
    office.reload()
    office.get_by_role("button", name="批准延期").click()
    expect(office.locator(".extensions")).to_contain_text("已批准")

    citizen = new_context(WIDTHS["phone"]).new_page()
    _track(citizen, number, code)
    result = citizen.locator(".track-result")
    expect(result).to_contain_text("阶段性答复")
    expect(result).to_contain_text("取样检测")
    expect(result).to_contain_text("延期办理")
    expect(result).to_contain_text("水质检测需要两个工作日出具报告")
    shoot(citizen, "track-interim-extension")

    # The reply goes through review; then the citizen asks one follow-up.
    responder.reload()
    responder.locator("#body").fill("您好！检测结果显示为管网老化铁锈，供水公司已冲洗管网，水质已恢复正常。")
    responder.get_by_role("button", name="提交审核").click()
    office.reload()
    office.get_by_role("button", name="审核通过并发布").click()
    _track(citizen, number, code)
    citizen.locator("#followup-body").fill("冲洗只是临时办法，老化的管网什么时候更换？")
    citizen.get_by_role("button", name="提交追问").click()
    expect(citizen.locator(".track-result")).to_contain_text("追问办理中")

    # The department answers in the same thread; the citizen sees it on /track.
    responder.reload()
    responder.locator("#supplement-body").fill("您好！幸福巷供水管网更换已列入明年老旧小区改造计划，预计明年五月完工。")
    responder.get_by_role("button", name="发布补充答复").click()
    expect(responder.locator(".thread")).to_contain_text("待办公室审核")
    office.reload()
    office.get_by_role("button", name="通过并公开").click()
    expect(office.locator(".facts")).not_to_contain_text("追问办理中")
    _track(citizen, number, code)
    result = citizen.locator(".track-result")
    expect(result).to_contain_text("网友追问")
    expect(result).to_contain_text("补充答复")
    expect(result).to_contain_text("预计明年五月完工")
    expect(citizen.locator("#followup-body")).to_have_count(0)
    shoot(citizen, "track-supplement")
