"""What an anonymous caller can learn: no API map, no driver errors, no reflected Host."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from reelflow.api.app import create_app
from reelflow.api.errors import unavailable
from reelflow.api.routes.videos import _links
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
