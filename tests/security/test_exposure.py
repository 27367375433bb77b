"""What an anonymous caller can learn: no API map, no driver errors, no reflected Host."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from reelflow.api.app import create_app
from reelflow.api.errors import unavailable
from reelflow.api.routes.videos import _links
from tests.security.conftest import API, app_without_prefect


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_api_docs_are_off_by_default(sec_client, path):
    assert sec_client.get(path).status_code == 404


def test_health_shows_why_only_to_a_known_caller(sec_client, mallory):
    anonymous = sec_client.get(f"{API}/health")
    assert anonymous.status_code == 503  # no Prefect in this suite
    prefect = anonymous.json()["checks"]["prefect"]
    assert prefect["ok"] is False and "error" not in prefect
    known = sec_client.get(f"{API}/health", headers=mallory.headers)
    assert "PREFECT_API_URL" in known.json()["checks"]["prefect"]["error"]
    wrong = sec_client.get(f"{API}/health", headers={"Authorization": "Bearer rf_nope"})
    assert "error" not in wrong.json()["checks"]["prefect"]


def test_503_bodies_carry_no_driver_details():
    error = unavailable("database", 'connection to "10.0.0.5", port 5432 failed: user "reelflow"')
    assert error.status_code == 503
    assert "10.0.0.5" not in error.message and "reelflow" not in error.message


@pytest.mark.parametrize(
    "headers",
    [
        [(b"host", b"evil.example")],
        [(b"host", b"api"), (b"x-forwarded-proto", b"https"), (b"x-forwarded-host", b"evil")],
    ],
)
def test_websocket_url_does_not_reflect_the_host(sec_settings, headers):
    app = create_app(sec_settings)
    scope = {"type": "http", "app": app, "headers": headers, "method": "POST", "path": "/",
             "query_string": b"", "scheme": "http", "server": ("api", 8000)}  # fmt: skip
    links = _links(Request(scope), "t1", "u1")
    assert links["websocket_url"] == "/ws/u1"


def test_an_idempotency_key_reused_for_another_request_is_422(sec_settings, sec_store):
    """The key check runs before the run is created: a Prefect API that is not there is enough."""
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from reelflow.api.config import ApiConfig

    user, token = sec_store.create_user("retrier")
    project = sec_store.create_project(user.id, {"title": "t", "script": "Hello there."})
    config = replace(
        ApiConfig.from_settings(sec_settings), prefect_api_url="http://127.0.0.1:9/api"
    )
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k-1"}
    url = f"{API}/video/generate-advanced/{project.id}"
    with TestClient(app_without_prefect(sec_settings, config)) as client:
        first = client.post(url, headers=headers, json={"quality": "low"})
        assert first.status_code == 503  # got as far as Prefect, which is not there
        again = client.post(url, headers=headers, json={"quality": "low"})
        assert again.status_code == 503  # the same request: a retry, not a conflict
        other = client.post(url, headers=headers, json={"quality": "high"})
        assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
        fresh = client.post(url, headers=headers | {"Idempotency-Key": "k-2"},
                            json={"quality": "high"})  # fmt: skip
        assert fresh.status_code == 503


def test_the_page_sends_a_csp_and_keeps_no_token_in_local_storage(sec_client):
    page = sec_client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "<script>" not in page.text.replace(" ", "")
    script = sec_client.get("/static/app.js").text
    assert "localStorage.setItem" not in script and "sessionStorage.setItem" in script
