"""What an anonymous caller can learn: no API map, no driver errors, no reflected Host."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest
from starlette.requests import Request

from reelflow.api.app import create_app
from reelflow.api.errors import unavailable
from reelflow.api.routes.videos import _links
from tests.apps import app_without_prefect
from tests.security.conftest import API


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


def test_by_default_the_api_answers_loopback_names_only(sec_settings, monkeypatch):
    """A forged Host is refused (400) unless the deployment names it; loopback always works."""
    from fastapi.testclient import TestClient

    from reelflow.api.config import ApiConfig
    from reelflow.settings import Settings

    for name in ("REELFLOW_API_TRUSTED_HOSTS", "REELFLOW_TRUSTED_HOSTS"):
        monkeypatch.setenv(name, "")  # so the test's own changes are undone afterwards
        monkeypatch.delenv(name)
    default = sec_settings.model_copy(update={"api_trusted_hosts": Settings().api_trusted_hosts})
    config = replace(ApiConfig.from_settings(default), prefect_api_url=None)
    with TestClient(app_without_prefect(default, config), base_url="http://127.0.0.1") as client:
        for host in ("127.0.0.1:8000", "localhost", "localhost:8000"):
            assert client.get(f"{API}/video/platforms", headers={"Host": host}).status_code == 200
        for host in ("evil.example", "reelflow.example.com", "testserver"):
            assert client.get(f"{API}/video/platforms", headers={"Host": host}).status_code == 400
    monkeypatch.setenv("REELFLOW_API_TRUSTED_HOSTS", '["reels.example.com"]')
    assert Settings().api_trusted_hosts == ["reels.example.com"]


def test_reelflow_up_trusts_the_host_it_binds(monkeypatch):
    from reelflow.cli import _trust_bound_host

    for name in ("REELFLOW_API_TRUSTED_HOSTS", "REELFLOW_TRUSTED_HOSTS"):
        monkeypatch.setenv(name, "")  # so the test's own changes are undone afterwards
        monkeypatch.delenv(name)
    _trust_bound_host("127.0.0.1")
    assert "REELFLOW_API_TRUSTED_HOSTS" not in os.environ
    _trust_bound_host("10.1.2.3")
    trusted = json.loads(os.environ["REELFLOW_API_TRUSTED_HOSTS"])
    assert trusted == ["localhost", "127.0.0.1", "::1", "10.1.2.3"]
    monkeypatch.setenv("REELFLOW_API_TRUSTED_HOSTS", '["mine.example"]')
    _trust_bound_host("10.1.2.3")  # the user's own choice stays
    assert json.loads(os.environ["REELFLOW_API_TRUSTED_HOSTS"]) == ["mine.example"]
