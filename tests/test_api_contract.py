"""The API keeps its word: schemathesis with every check against /api/v1 served on 127.0.0.1, and the cases it
found, one by one (405 with Allow and JSON, values the document allows, values it does not, JSON errors)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from bulletin_helpers import open_incident, post_update, spokesperson
from press_helpers import new_release
from test_api import publish_question
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def api_site(app, staff):
    publish_question(app, staff, category="求助")
    client = spokesperson(app)
    incident = open_incident(app, client)
    post_update(app, client, incident.id, "第一次通报：转移群众1260人。", title="第一次通报")
    new_release(app, client, title="县城区冬季供暖今日启动", topics="民生,供暖", slug="heating")
    return app


def test_schemathesis_with_every_check_finds_nothing(api_site, tmp_path):
    server = make_server("127.0.0.1", 0, api_site, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/api/v1/openapi.json"
    try:
        run = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", url, "--checks", "all", "--max-examples", "25",
             "--seed", "21", "--generation-database", "none", "--workers", "1", "--no-color",
             "--phases", "examples,coverage,fuzzing", "--report-dir", str(tmp_path / "report")],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )
    finally:
        server.shutdown()
        thread.join(5)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]


def test_wrong_method_is_405_with_allow_and_json(api_site):
    api = api_site.test_client()
    for method in ("post", "put", "delete", "patch"):
        response = getattr(api, method)("/api/v1/incidents")
        assert response.status_code == 405, method
        assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}
        assert response.mimetype == "application/json" and response.get_json()["error"]
    # The kind, outside the API too: a page answering 405 says which methods it takes.
    page = api.put("/questions")
    assert page.status_code == 405 and "GET" in page.headers["Allow"]


def test_every_error_under_the_api_is_json(api_site):
    api = api_site.test_client()
    for url, status in (("/api/v1/nothing-here", 404), ("/api/v1/incidents/nope", 404),
                        ("/api/v1/releases/nope", 404), ("/api/v1/questions?page=abc", 400)):
        response = api.get(url)
        assert response.status_code == status and response.mimetype == "application/json", url
        assert response.get_json()["error"], url


def test_values_the_document_allows_are_accepted(api_site):
    api = api_site.test_client()
    doc = api.get("/api/v1/openapi.json").get_json()
    params = {p["name"]: p["schema"] for p in doc["paths"]["/questions"]["get"]["parameters"]}
    assert params["department"]["enum"] == ["jtj", "jyj", "office"]
    for query in ("?page=99999", "?month=1990-01", "?month=2100-12", "?department=jyj", "?category=求助"):
        assert api.get(f"/api/v1/questions{query}").status_code == 200, query
    for query in ("?page=10000", "?month=2000-01", "?topic=供暖", "?topic=%20供暖%20"):
        assert api.get(f"/api/v1/releases{query}").status_code == 200, query


@pytest.mark.parametrize("query", ["?month=0000-00", "?page=100000", "?department=nope", "?page=", "?page=1&page=abc",
                                   "?page=1&page=2", "?month=2026-111", "?month=2026-1", "?category="])
def test_values_the_document_refuses_are_400_on_questions(api_site, query):
    response = api_site.test_client().get(f"/api/v1/questions{query}")
    assert response.status_code == 400 and response.get_json()["reasons"], query
    assert "页码应为正整数。" != response.get_json()["reasons"].get("page")


@pytest.mark.parametrize("query", ["?page=", "?page=1&page=abc", "?type=", "?type=news&type=rumour", "?month=1989-12",
                                   "?page=10001", "?page=%201", "?topic="])
def test_values_the_document_refuses_are_400_on_releases(api_site, query):
    response = api_site.test_client().get(f"/api/v1/releases{query}")
    assert response.status_code == 400 and response.get_json()["reasons"], query


def test_a_server_error_under_the_api_is_json_too(api_site, monkeypatch):
    from portal.services.bulletins import bulletin_read

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(bulletin_read, "list_incidents", broken)
    response = api_site.test_client().get("/api/v1/incidents")
    assert response.status_code == 500 and response.mimetype == "application/json"
    assert response.get_json()["error"] and "database went away" not in response.get_data(as_text=True)
