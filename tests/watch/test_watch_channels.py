"""Department alert channels: set by the office, checked by Apprise, shown masked, audited, used by the alerts."""

from __future__ import annotations

import json

from conftest import AuthActions, csrf_token
from sqlalchemy import select
from watch_helpers import feed_server, rss

from portal.extensions import db
from portal.models import AuditEntry
from portal.models.watch import WatchDepartmentChannel
from portal.services.watch.channels import channel_key

WECOM = "wecombot://0123456789abcdef0123456789abcdef"
MAIL = "mailto://alerts:s3cretpassw0rd@mail.example.org"


def login(app, username: str = "office"):
    client = app.test_client()
    assert AuthActions(client).login(username).status_code == 303
    return client


def add(client, department: int, urls: str):
    token = csrf_token(client, "/staff/watch/channels")
    return client.post("/staff/watch/channels", data={"csrf_token": token, "department_id": str(department),
                                                      "alert_urls": urls})


def stored(app, department: int) -> list[str]:
    with app.app_context():
        row = db.session.get(WatchDepartmentChannel, department)
        return row.alert_urls.split() if row else []


def test_office_sets_channels_shown_masked_and_audited(app, staff):
    client = login(app)
    response = add(client, staff.roads, f"{WECOM}\n{MAIL}")
    assert response.status_code == 200
    assert stored(app, staff.roads) == [WECOM, MAIL]
    html = client.get("/staff/watch/channels").get_data(as_text=True)
    assert "0123456789abcdef0123456789abcdef" not in html and "s3cretpassw0rd" not in html
    assert "wecombot://0...f/" in html and "mailto://alerts:****@mail.example.org" in html
    with app.app_context():
        audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "watch.channel.add"))
        assert audit is not None and "s3cretpassw0rd" not in audit.detail
        assert "0123456789abcdef0123456789abcdef" not in audit.detail

    token = csrf_token(client, "/staff/watch/channels")
    response = client.post(f"/staff/watch/channels/{staff.roads}/remove",
                           data={"csrf_token": token, "key": channel_key(WECOM)})
    assert response.status_code == 303
    assert stored(app, staff.roads) == [MAIL]
    with app.app_context():
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "watch.channel.remove")) is not None


def test_a_url_apprise_cannot_use_is_a_400_with_the_text_kept(app, staff):
    client = login(app)
    response = add(client, staff.roads, f"{WECOM}\nqq://123456")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "无法识别的推送地址" in html and "qq://123456" in html and WECOM in html  # typed text kept in the form
    assert stored(app, staff.roads) == []
    response = add(client, 0, WECOM)
    assert response.status_code == 400 and "请选择部门" in response.get_data(as_text=True)


def test_other_roles_cannot_see_or_change_channels(app, staff):
    add(login(app), staff.roads, WECOM)
    client = login(app, "responder")
    assert client.get("/staff/watch/channels").status_code == 403
    token = csrf_token(client, "/staff/watch/captures")  # a page the responder may open
    assert client.post("/staff/watch/channels", data={"csrf_token": token, "department_id": str(staff.roads),
                                                      "alert_urls": MAIL}).status_code == 403
    assert client.post(f"/staff/watch/channels/{staff.roads}/remove",
                       data={"csrf_token": token, "key": channel_key(WECOM)}).status_code == 403
    assert stored(app, staff.roads) == [WECOM]


def test_a_major_story_goes_to_its_departments_channel(app, runner, staff, tmp_path):
    with feed_server() as server:
        hook = f"json://127.0.0.1:{server.base.rsplit(':', 1)[1]}/roads-hook"
        assert add(login(app), staff.roads, hook).status_code == 200
        url = server.feed("/forum.rss", rss("论坛", [{"title": "东环路塌陷，一辆车掉进坑里", "link": "http://bbs.example/t1",
                                                    "description": "东环路北段路面塌陷。"}]))
        (tmp_path / "s.opml").write_text(
            f'<opml version="2.0"><body><outline type="rss" text="论坛" xmlUrl="{url}"/></body></opml>',
            encoding="utf-8")
        (tmp_path / "p.json").write_text(json.dumps([{"name": "道路塌陷", "any": ["塌陷"], "must": [], "exclude": [],
                                                      "severity": "重大", "department": "测试县交通运输局"}],
                                                    ensure_ascii=False), encoding="utf-8")
        runner.invoke(args=["watch", "import-sources", str(tmp_path / "s.opml")])
        runner.invoke(args=["watch", "import-plans", str(tmp_path / "p.json")])
        out = runner.invoke(args=["watch", "fetch", "--once"])
        assert "发出预警 1 条" in out.output, out.output
        assert [p["path"] for p in server.posts] == ["/roads-hook"]
        assert "道路塌陷" in server.posts[0]["json"]["title"]
