import json

import pytest


@pytest.mark.django_db
def test_healthz_and_readyz(client):
    alive = client.get("/healthz")
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = json.loads(ready.content)
    assert body["checks"] == {"database": "ok", "migrations": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_metrics_only_for_configured_addresses(client):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    scraped = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert scraped.status_code == 200
    assert b"kreide_http_requests_total" in scraped.content


@pytest.mark.django_db
def test_strict_csp_on_pages(client):
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


@pytest.mark.django_db
def test_readyz_stays_ready_but_says_degraded_without_redis(client, monkeypatch):
    from kreide.core import views

    monkeypatch.setattr(views, "shared_cache_problem", lambda: "ConnectionError")
    ready = client.get("/readyz")
    # Pages are still served from the database: the balancer keeps this node.
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "migrations": "ok", "cache": "unavailable: ConnectionError"},
    }
