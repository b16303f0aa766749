"""The app starts, migrates and serves its public pages."""


def test_home_and_pages(client):
    assert client.get("/").status_code == 200
    for slug in ("about", "rules", "privacy"):
        assert client.get(f"/pages/{slug}").status_code == 200
