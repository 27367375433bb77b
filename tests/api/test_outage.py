"""Services that are down give 503 with details, never a crash or a hang."""

from __future__ import annotations

from fastapi.testclient import TestClient

from reelflow.api.app import create_app
from tests.api.helpers import make_project
from tests.redis_server import free_port

API = "/api/v1"


def test_redis_down_answers_503(deployed, api_settings, api_config, alice, client):
    project_id = make_project(client, alice)
    dead = api_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with TestClient(create_app(dead, config=api_config)) as down:
        health = down.get(f"{API}/health")
        assert health.status_code == 503
        checks = health.json()["checks"]
        assert not checks["redis"]["ok"] and checks["database"]["ok"] and checks["prefect"]["ok"]
        assert down.get(f"{API}/me", headers=alice.headers).status_code == 200
        response = down.post(
            f"{API}/video/generate-advanced/{project_id}", headers=alice.headers, json={}
        )
        assert response.status_code == 503 and "Redis" in response.json()["detail"]
        assert response.headers["Retry-After"]


def test_database_down_answers_503(deployed, api_settings, api_config, alice):
    url = f"postgresql+psycopg://root@127.0.0.1:{free_port()}/nothing"
    dead = api_settings.model_copy(update={"database_url": url})
    with TestClient(create_app(dead, config=api_config)) as down:
        health = down.get(f"{API}/health")
        assert health.status_code == 503 and not health.json()["checks"]["database"]["ok"]
        me = down.get(f"{API}/me", headers=alice.headers)
        assert me.status_code == 503 and "database" in me.json()["detail"]
