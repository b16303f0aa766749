"""After a publication the app asks nginx to refresh the pages the change touched (portal/edge.py).

A small HTTP server stands where nginx would and records what it is asked for; tests/test_nginx.py runs the
same exchange against deploy/nginx.conf itself.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from bulletin_helpers import open_incident, post_update, spokesperson
from conftest import AuthActions, ask_and_get_code, csrf_token
from press_helpers import new_release
from server_helpers import free_port
from sqlalchemy import select

from portal import create_app
from portal.config import ConfigError
from portal.extensions import db
from portal.models import Incident, Question, SiteState


class Recorder:
    """An HTTP server on 127.0.0.1 that answers 200 and keeps (path, Host, refresh header, scheme header,
    Accept-Encoding)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, str, str]] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                seen.append((self.path, self.headers.get("Host", ""), self.headers.get("X-Portal-Refresh", ""),
                             self.headers.get("X-Portal-Scheme", ""), self.headers.get("Accept-Encoding", "")))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def paths(self) -> list[str]:
        """The paths asked for, each once per pass (each comes plain, then gzip-compressed)."""
        plain = [path for path, *_, encoding in self.seen if encoding == "identity"]
        assert [path for path, *_, encoding in self.seen if encoding == "gzip"] == plain
        return plain

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def nginx_stand_in():
    recorder = Recorder()
    yield recorder
    recorder.close()


def settled(app) -> None:
    assert app.extensions["edge_refresh"].wait_idle(10), "the refresh thread did not finish"


def console_on(make_app, refresh_url: str):
    """An app that refreshes `refresh_url`, the spokesperson's browser on it, and an open incident."""
    edge_app = make_app(EDGE_REFRESH_URLS=refresh_url)
    client = spokesperson(edge_app)
    incident = open_incident(edge_app, client)
    settled(edge_app)
    return edge_app, client, incident


def test_a_published_answer_refreshes_its_page_the_board_and_the_answers_feed(app, staff, make_app, nginx_stand_in):
    edge_app = make_app(EDGE_REFRESH_URLS=nginx_stand_in.url, BASE_URL="https://gov.example")
    number, _ = ask_and_get_code(edge_app.test_client())
    with edge_app.app_context():
        qid = db.session.scalar(select(Question.id).where(Question.number == number))
    office = edge_app.test_client()
    AuthActions(office).login("office")
    token = csrf_token(office, f"/staff/questions/{qid}")
    office.post(f"/staff/questions/{qid}/route", data={"department": str(staff.roads), "note": "", "csrf_token": token})
    settled(edge_app)
    # A citizen's question and its routing change nothing the public sees: nginx is not bothered.
    assert nginx_stand_in.seen == []
    office.post(f"/staff/questions/{qid}/reply",
                data={"body": "网友您好：已安排处理。", "publish": "1", "csrf_token": token})
    settled(edge_app)
    wanted = [f"/questions/{number}", "/questions", "/feeds/answers.atom", "/"]
    # Each page twice: at once, and again once every worker's copy of the content version has expired.
    assert nginx_stand_in.paths() == wanted + wanted
    # Asked for the public site's pages (PORTAL_BASE_URL), whatever address nginx is reached at.
    assert {(host, flag, scheme) for _, host, flag, scheme, _ in nginx_stand_in.seen} == {("gov.example", "1", "https")}


def test_a_bulletin_refreshes_the_incident_its_feeds_and_the_lists(app, staff, make_app, nginx_stand_in):
    edge_app, client, incident = console_on(make_app, nginx_stand_in.url)
    nginx_stand_in.seen.clear()
    post_update(edge_app, client, incident.id, "转移群众1260人。", title="第一次通报")
    settled(edge_app)
    first = nginx_stand_in.paths()[: len(nginx_stand_in.paths()) // 2]
    assert first[0] == "/incidents/qingshi-flood"  # the page everyone is reloading goes first
    assert set(first) == {"/incidents/qingshi-flood", "/incidents/qingshi-flood/feed.rss",
                          "/incidents/qingshi-flood/feed.atom", "/incidents", "/feeds/bulletins.rss",
                          "/feeds/bulletins.atom", "/"}
    # Without PORTAL_BASE_URL, the address the spokesperson used (the test client's) names the site.
    assert {host for _, host, *_ in nginx_stand_in.seen} == {"localhost"}


def test_a_release_about_an_incident_refreshes_the_incident_and_the_news_feeds(app, staff, make_app, nginx_stand_in):
    edge_app, client, incident = console_on(make_app, nginx_stand_in.url)
    nginx_stand_in.seen.clear()
    new_release(edge_app, client, title="青石镇灾后恢复进展", incident_slug=incident.slug)
    settled(edge_app)
    first = nginx_stand_in.paths()[: len(nginx_stand_in.paths()) // 2]
    assert first[0] == "/incidents/qingshi-flood"
    assert set(first) == {"/incidents/qingshi-flood", "/news/feed.rss", "/news/feed.atom", "/news/news/feed.rss",
                          "/news/news/feed.atom"}


def test_nginx_being_down_never_fails_a_publication(app, staff, make_app):
    edge_app, client, incident = console_on(make_app, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    post_update(edge_app, client, incident.id, "转移群众1260人。", title="第一次通报")
    settled(edge_app)
    assert "第一次通报" in edge_app.test_client().get("/incidents/qingshi-flood").get_data(as_text=True)
    assert edge_app.extensions["edge_refresh"].failed > 0


def test_a_refresh_reads_the_content_version_afresh(app, staff, make_app):
    """Another server publishes; this one still trusts its copy of the version (here for a minute), except for
    nginx's refresh, which must render the new page whichever worker or server answers it."""
    reader = make_app(EDGE_REFRESH_URLS="http://127.0.0.1:9", CACHE_VERSION_TTL=60)
    ignoring = make_app(CACHE_VERSION_TTL=60)  # no nginx configured: the header means nothing
    client = spokesperson(app)
    open_incident(app, client)
    for server in (reader, ignoring):
        assert "青石镇山洪灾害" in server.test_client().get("/incidents/qingshi-flood").get_data(as_text=True)
    # Another server's commit: the content and the version change together, and nothing in this process hears.
    other = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with other.begin() as conn:
        conn.execute(sa.update(Incident.__table__).values(title="青石镇山洪灾害（更新）"))
        conn.execute(sa.update(SiteState.__table__).values(version=SiteState.__table__.c.version + 1))
    other.dispose()
    refresh = {"X-Portal-Refresh": "1"}
    assert "（更新）" not in reader.test_client().get("/incidents/qingshi-flood").get_data(as_text=True)
    assert "（更新）" in reader.test_client().get("/incidents/qingshi-flood", headers=refresh).get_data(as_text=True)
    assert "（更新）" not in ignoring.test_client().get("/incidents/qingshi-flood", headers=refresh).get_data(as_text=True)


def test_a_refresh_address_that_is_not_http_is_refused_at_start(tmp_path):
    with pytest.raises(ConfigError, match="PORTAL_EDGE_REFRESH_URLS"):
        create_app({"TESTING": True, "SECRET_KEY": "x" * 32, "EDGE_REFRESH_URLS": "ftp://127.0.0.1",
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
                    "SEARCH_INDEX_DIR": str(tmp_path / "idx")})
