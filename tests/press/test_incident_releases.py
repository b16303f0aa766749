"""The incident page lists the press releases linked to it (相关新闻发布): published ones only, newest first."""

from __future__ import annotations

from datetime import timedelta

from bs4 import BeautifulSoup
from bulletin_helpers import local, open_incident, spokesperson
from press_helpers import new_release, release_row
from test_release_withdrawal import withdraw

from portal.timeutil import utcnow


def test_incident_page_lists_its_published_releases(app, staff):
    client = spokesperson(app)
    incident = open_incident(app, client)
    other = open_incident(app, client, title="城区停水", slug="water")
    public = app.test_client()
    url = f"/incidents/{incident.slug}"
    assert "相关新闻发布" not in public.get(url).get_data(as_text=True)
    public.get(url)
    assert public.get(url).headers.get("X-Render-Cache") == "hit"

    new_release(app, client, title="青石镇灾后恢复进展", incident_slug=incident.slug, slug="recovery")
    _r, rumour = new_release(app, client, type="rumour", title="“青石镇死亡百人”系谣言", rumour="网传死亡百人。",
                             body="经核实，无人员死亡。", incident_slug=incident.slug)
    new_release(app, client, title="定时发布的安置通知", incident_slug=incident.slug, when="later",
                publish_at=local(utcnow() + timedelta(hours=3)))
    new_release(app, client, title="城区停水通知", incident_slug=other.slug)
    new_release(app, client, title="与事件无关的稿件")

    page = public.get(url)  # the render cache was invalidated by the publications
    soup = BeautifulSoup(page.data, "html.parser")
    section = soup.select_one("section.incident-releases")
    assert section is not None and section.h2.get_text() == "相关新闻发布"
    links = {a.get_text(): a["href"] for a in section.select("a")}
    assert links == {"“青石镇死亡百人”系谣言": f"/news/{release_row(app, rumour).slug}",
                     "青石镇灾后恢复进展": "/news/recovery"}
    assert [a.get_text() for a in section.select("a")][0] == "“青石镇死亡百人”系谣言"  # newest first
    assert "辟谣" in section.get_text()

    assert withdraw(client, rumour).status_code == 303
    item = next(li for li in public.get(url).data.decode().split("<li") if "死亡百人" in li)
    assert "已撤回" in item
    water = BeautifulSoup(public.get("/incidents/water").data, "html.parser").select_one("section.incident-releases")
    assert [a.get_text() for a in water.select("a")] == ["城区停水通知"]
