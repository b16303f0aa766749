"""Withdrawing a release and removing one attachment, as the public, feed readers and the spokesperson see it."""

from __future__ import annotations

import json
import time

import pytest
from bs4 import BeautifulSoup
from bulletin_helpers import spokesperson
from conftest import AuthActions, csrf_token
from press_helpers import attachments, new_release, release_row, stored_files, upload
from sqlalchemy import select
from test_feeds import check_atom, check_rss, parse_clean
from test_render_cache import version
from test_uploads import png_bytes

from portal.extensions import db
from portal.models import AuditEntry
from portal.services.press.demo_press import minimal_pdf
from portal.timeutil import BEIJING

FEEDS = ["/news/feed.rss", "/news/feed.atom", "/news/rumour/feed.rss", "/news/rumour/feed.atom"]
REASON = "经核实，网传视频拍摄于外地，与本县无关；原稿所述情况有误。"


def withdraw(client, release_id: int, reason: str = REASON, confirm: bool = True):
    token = csrf_token(client, f"/staff/press/releases/{release_id}")
    data = {"csrf_token": token, "reason": reason, "submit": "撤回稿件"}
    if confirm:
        data["confirm"] = "y"
    return client.post(f"/staff/press/releases/{release_id}/withdraw", data=data)


def remove(client, release_id: int, attachment_id: int, confirm: bool = True):
    token = csrf_token(client, f"/staff/press/releases/{release_id}")
    data = {"csrf_token": token, f"a{attachment_id}-submit": "删除附件"}
    if confirm:
        data[f"a{attachment_id}-confirm"] = "y"
    return client.post(f"/staff/press/releases/{release_id}/attachments/{attachment_id}/remove", data=data)


def audit_rows(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        for row in rows:
            db.session.expunge(row)
        return rows


def main_text(response) -> str:
    return BeautifulSoup(response.data, "html.parser").select_one("main").get_text(" ", strip=True)


@pytest.fixture
def rebuttal(app, staff):
    """A published rumour rebuttal with an image and a PDF."""
    client = spokesperson(app)
    _r, rid = new_release(app, client, type="rumour", title="“石门水库溃坝”系谣言", rumour="网传石门水库今晚溃坝。",
                          body="经水利局核查，大坝安全，库水位低于汛限水位。", slug="shimen-rumour")
    assert upload(client, rid, png_bytes((1600, 900)), "大坝现场.png", "image/png", caption="大坝现场").status_code == 303
    assert upload(client, rid, minimal_pdf("t", []), "核查报告.pdf", "application/pdf").status_code == 303
    return client, rid


# ---- withdrawing a release ------------------------------------------------------------------------------


def test_withdrawn_release_stays_at_its_url_marked_with_reason_and_time(app, rebuttal):
    client, rid = rebuttal
    public = app.test_client()
    before = public.get("/news/shimen-rumour").get_data(as_text=True)
    assert "大坝安全" in before and "网传石门水库今晚溃坝" in before
    version_before = version(app)

    assert withdraw(client, rid).status_code == 303

    page = public.get("/news/shimen-rumour")
    assert page.status_code == 200 and "Set-Cookie" not in page.headers
    soup = BeautifulSoup(page.data, "html.parser")
    assert "已撤回" in soup.h1.get_text() and "“石门水库溃坝”系谣言" in soup.h1.get_text()
    notice = soup.select_one(".notice-withdrawn").get_text()
    release = release_row(app, rid)
    when = f"{release.withdrawn_at.astimezone(BEIJING):%Y-%m-%d %H:%M}"
    assert f"本稿件已于 {when} 撤回" in notice and REASON in notice
    text = page.get_data(as_text=True)
    assert "大坝安全" not in text and "网传石门水库今晚溃坝" not in text  # neither the facts nor the rumour
    assert "/attachments/" not in text and "核查报告.pdf" not in text
    assert "【已撤回】" in soup.title.get_text()
    # The list keeps it, marked; the content version moved (cached pages are rebuilt).
    listing = BeautifulSoup(public.get("/news").data, "html.parser")
    item = next(li for li in listing.select(".release-list li") if "石门水库" in li.get_text())
    assert "已撤回" in item.get_text()
    assert version(app) > version_before
    # One audit row, with the reason.
    (row,) = audit_rows(app, "release.withdrawn")
    assert row.subject_id == rid and row.actor_name == "spokesperson" and json.loads(row.detail)["reason"] == REASON


def test_withdrawal_is_reissued_in_every_feed_with_the_notice_only(app, rebuttal):
    client, rid = rebuttal
    public = app.test_client()
    before = {url: parse_clean(public.get(url).data).entries[0] for url in FEEDS}
    time.sleep(1.05)  # feed dates have one-second resolution (RSS pubDate)
    assert withdraw(client, rid).status_code == 303
    for url in FEEDS:
        body = public.get(url).data
        (check_rss if url.endswith("rss") else check_atom)(body)
        parsed = parse_clean(body)
        assert len(parsed.entries) == 1
        entry = parsed.entries[0]
        assert entry.id == before[url].id == f"tag:yunxi.example,2026:press/release/{rid}"
        assert entry.title == "【已撤回】【辟谣】“石门水库溃坝”系谣言"
        html = entry.get("summary") or entry.content[0].value
        assert "本稿件已于" in html and "撤回" in html and REASON in html
        assert "大坝安全" not in html and "今晚溃坝" not in html and "/attachments/" not in html
        if url.endswith("atom"):
            assert entry.updated_parsed > before[url].updated_parsed
            assert entry.published_parsed == before[url].published_parsed
        else:
            assert entry.published_parsed > before[url].published_parsed


def test_feed_etag_changes_on_withdrawal(app, rebuttal):
    client, rid = rebuttal
    public = app.test_client()
    etags = {url: public.get(url).headers["ETag"] for url in FEEDS}
    assert withdraw(client, rid).status_code == 303
    for url in FEEDS:
        assert public.get(url, headers={"If-None-Match": etags[url]}).status_code == 200, url


def test_withdrawal_needs_a_reason_and_a_confirmation(app, rebuttal):
    client, rid = rebuttal
    unconfirmed = withdraw(client, rid, confirm=False)
    assert unconfirmed.status_code == 400 and "请勾选确认后再撤回" in main_text(unconfirmed)
    assert REASON in unconfirmed.get_data(as_text=True)  # what was typed is kept
    no_reason = withdraw(client, rid, reason="   ")
    assert no_reason.status_code == 400 and "请填写撤回原因" in main_text(no_reason)
    too_long = withdraw(client, rid, reason="长" * 501)
    assert too_long.status_code == 400 and "撤回原因不超过 500 个字" in main_text(too_long)
    assert release_row(app, rid).withdrawn_at is None
    assert audit_rows(app, "release.withdrawn") == []
    assert "大坝安全" in app.test_client().get("/news/shimen-rumour").get_data(as_text=True)


def test_a_withdrawn_release_cannot_be_withdrawn_again_corrected_or_given_files(app, rebuttal):
    client, rid = rebuttal
    assert withdraw(client, rid).status_code == 303
    console = client.get(f"/staff/press/releases/{rid}").get_data(as_text=True)
    assert "本稿件已于" in console and f"/staff/press/releases/{rid}/correct" not in console
    again = withdraw(client, rid, reason="再次撤回")
    assert again.status_code == 409 and "这篇稿件已经撤回" in main_text(again)
    token = csrf_token(client, f"/staff/press/releases/{rid}")
    corrected = client.post(f"/staff/press/releases/{rid}/correct", data={
        "csrf_token": token, "title": "", "rumour": "网传。", "body": "新的正文。", "change_note": "更正。"})
    assert corrected.status_code == 409 and "已撤回，不能再更正" in main_text(corrected)
    late = upload(client, rid, png_bytes(), "晚到的图.png", "image/png")
    assert late.status_code == 409 and "已撤回，不能再添加附件" in main_text(late)
    assert len(attachments(app)) == 2 and len(audit_rows(app, "release.withdrawn")) == 1


def test_files_of_a_withdrawn_release_answer_410(app, rebuttal):
    client, rid = rebuttal
    image, pdf = attachments(app)
    assert withdraw(client, rid).status_code == 303
    public = app.test_client()
    for url in [f"/attachments/{image.id}/{image.filename}", f"/attachments/{image.id}/m/{image.filename}",
                f"/attachments/{pdf.id}/{pdf.filename}"]:
        response = public.get(url)
        assert response.status_code == 410, url
        assert "所属的稿件已撤回" in main_text(response)
    # Withdrawal deletes nothing: the files are still kept (the spokesperson may still remove them).
    assert len(stored_files(app)) == 3


@pytest.mark.parametrize("role", ["office", "responder"])
def test_other_roles_cannot_withdraw_or_remove(app, rebuttal, role):
    _client, rid = rebuttal
    image, _pdf = attachments(app)
    other = app.test_client()
    AuthActions(other).login(role)
    token = csrf_token(other, "/staff/")
    for url in [f"/staff/press/releases/{rid}/withdraw",
                f"/staff/press/releases/{rid}/attachments/{image.id}/remove"]:
        response = other.post(url, data={"csrf_token": token, "reason": REASON, "confirm": "y",
                                         f"a{image.id}-confirm": "y"})
        assert response.status_code == 403 and "无权访问" in main_text(response)
    assert release_row(app, rid).withdrawn_at is None and len(stored_files(app)) == 3


def test_admin_may_withdraw(app, rebuttal):
    _client, rid = rebuttal
    admin = app.test_client()
    AuthActions(admin).login("admin")
    assert withdraw(admin, rid).status_code == 303
    assert audit_rows(app, "release.withdrawn")[0].actor_name == "admin"


# ---- removing one attachment ----------------------------------------------------------------------------


def test_removed_attachment_is_deleted_from_storage_and_answers_410(app, rebuttal):
    client, rid = rebuttal
    image, pdf = attachments(app)
    public = app.test_client()
    assert public.get(f"/attachments/{pdf.id}/{pdf.filename}").status_code == 200
    files_before = stored_files(app)
    assert pdf.stored_name in files_before and len(files_before) == 3  # image, its rendition, the PDF
    feed_etag = public.get("/news/feed.atom").headers["ETag"]

    assert remove(client, rid, pdf.id).status_code == 303

    assert stored_files(app) == sorted(n for n in files_before if n != pdf.stored_name)
    gone = public.get(f"/attachments/{pdf.id}/{pdf.filename}")
    assert gone.status_code == 410
    assert "该附件已于" in main_text(gone) and "被发布单位删除" in main_text(gone)
    page = public.get("/news/shimen-rumour").get_data(as_text=True)
    assert "核查报告.pdf" not in page and f"/attachments/{pdf.id}/" not in page
    assert f"/attachments/{image.id}/" in page and "大坝安全" in page  # the rest of the release is untouched
    feed = public.get("/news/feed.atom", headers={"If-None-Match": feed_etag})
    assert feed.status_code == 200
    html = parse_clean(feed.data).entries[0].content[0].value
    assert f"/attachments/{pdf.id}/" not in html and f"/attachments/{image.id}/" in html
    (row,) = audit_rows(app, "release.attachment_removed")
    detail = json.loads(row.detail)
    assert row.subject_id == rid and detail["attachment"] == pdf.id and detail["filename"] == "核查报告.pdf"
    console = client.get(f"/staff/press/releases/{rid}").get_data(as_text=True)
    assert "核查报告.pdf" in console and "删除" in console  # the console keeps the record


def test_removing_an_image_removes_its_phone_rendition_too(app, rebuttal):
    client, rid = rebuttal
    image, pdf = attachments(app)
    assert image.rendition_name is not None
    assert remove(client, rid, image.id).status_code == 303
    assert stored_files(app) == [pdf.stored_name]
    public = app.test_client()
    assert public.get(f"/attachments/{image.id}/{image.filename}").status_code == 410
    assert public.get(f"/attachments/{image.id}/m/{image.filename}").status_code == 410
    assert "<img" not in BeautifulSoup(public.get("/news/shimen-rumour").data, "html.parser").select_one(
        "article.release").decode()


def test_removal_needs_confirmation_and_the_right_release(app, rebuttal):
    client, rid = rebuttal
    image, pdf = attachments(app)
    unconfirmed = remove(client, rid, pdf.id, confirm=False)
    assert unconfirmed.status_code == 400 and "请勾选确认后再删除附件" in main_text(unconfirmed)
    _r, other = new_release(app, client, title="另一篇稿件")
    assert remove(client, other, pdf.id).status_code == 404  # not this release's file
    assert len(stored_files(app)) == 3 and audit_rows(app, "release.attachment_removed") == []
    assert remove(client, rid, pdf.id).status_code == 303
    again = remove(client, rid, pdf.id)
    assert again.status_code == 409 and "这个附件已经删除" in main_text(again)
    assert len(audit_rows(app, "release.attachment_removed")) == 1
