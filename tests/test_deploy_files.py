"""docker-compose.yml, Dockerfile and nginx.conf, checked by parsing (no Docker engine here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def env_of(service: dict) -> dict:
    env = service.get("environment", {})
    return env if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def test_every_service_of_the_stack_is_there(compose):
    expected = {"postgres", "redis", "prefect-server", "prefect-services", "init", "api",
                "worker-cpu", "worker-gpu", "nginx"}  # fmt: skip
    assert expected <= set(compose["services"])


def test_long_running_services_have_health_checks(compose):
    for name in ("postgres", "redis", "prefect-server", "api", "nginx"):
        check = compose["services"][name]["healthcheck"]
        assert check["test"] and check["retries"] >= 5, name


def test_dependency_order_waits_for_health_and_init(compose):
    services = compose["services"]
    api = services["api"]["depends_on"]
    assert api["postgres"]["condition"] == "service_healthy"
    assert api["redis"]["condition"] == "service_healthy"
    assert api["prefect-server"]["condition"] == "service_healthy"
    assert api["init"]["condition"] == "service_completed_successfully"
    for worker in ("worker-cpu", "worker-gpu"):
        assert services[worker]["depends_on"]["init"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["init"]["depends_on"]["prefect-server"]["condition"] == "service_healthy"
    assert services["init"]["restart"] == "no"
    assert services["nginx"]["depends_on"]["api"]["condition"] == "service_healthy"


def test_shared_media_volume_and_one_data_dir(compose):
    for name in ("api", "worker-cpu", "worker-gpu"):
        service = compose["services"][name]
        assert "data:/data" in service["volumes"], name
        env = env_of(service)
        assert env["REELFLOW_DATA_DIR"] == "/data"
        assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
        assert env["REELFLOW_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["REELFLOW_REDIS_URL"].startswith("redis://:${REDIS_PASSWORD")
    assert {"data", "pgdata", "redisdata"} <= set(compose["volumes"])


def test_prefect_scales_out_on_postgres_and_redis(compose):
    server = compose["services"]["prefect-server"]
    assert "--no-services" in server["command"]
    assert server["deploy"]["replicas"] >= 2
    assert compose["services"]["prefect-services"]["command"][-2:] == ["services", "start"]
    for name in ("prefect-server", "prefect-services"):
        env = env_of(compose["services"][name])
        assert env["PREFECT_SERVER_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
        assert env["PREFECT_MESSAGING_BROKER"] == "prefect_redis.messaging"
        assert env["PREFECT_MESSAGING_CACHE"] == "prefect_redis.messaging"
        assert env["PREFECT_SERVER_EVENTS_CAUSAL_ORDERING"] == "prefect_redis.ordering"
        assert env["PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"] == "prefect_redis.lease_storage"


def test_gpu_worker_reserves_nvidia_devices_and_cpu_worker_does_not(compose):
    gpu = compose["services"]["worker-gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "video" in devices[0]["capabilities"]
    assert env_of(gpu)["WORK_POOL"] == "gpu" and env_of(gpu)["ENABLE_GPU_ACCELERATION"] == "true"
    cpu = compose["services"]["worker-cpu"]
    assert "deploy" not in cpu
    assert env_of(cpu)["WORK_POOL"] == "cpu" and env_of(cpu)["ENABLE_GPU_ACCELERATION"] == "false"


def test_no_default_credentials_and_no_published_prefect_api(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    assert "reelflow:reelflow" not in text
    assert "ports" not in compose["services"]["prefect-server"]
    published = {name for name, s in compose["services"].items() if "ports" in s}
    assert published == {"nginx"}  # the one way in
    redis = compose["services"]["redis"]["command"]
    assert "--requirepass" in redis
    for name in ("api", "worker-cpu", "worker-gpu", "init"):
        env = env_of(compose["services"][name])
        assert env["PREFECT_API_AUTH_STRING"].startswith("${PREFECT_AUTH_STRING:?")
        assert "${POSTGRES_PASSWORD:?" in env["REELFLOW_DATABASE_URL"]
    server = env_of(compose["services"]["prefect-server"])
    assert server["PREFECT_SERVER_API_AUTH_STRING"].startswith("${PREFECT_AUTH_STRING:?")
    docker = (ROOT / "Dockerfile").read_text()
    assert (
        '"--forwarded-allow-ips", "*"' not in docker and "FORWARDED_ALLOW_IPS=127.0.0.1" in docker
    )


def test_redis_persists_so_a_restart_keeps_status_and_streams(compose):
    assert "--appendonly" in compose["services"]["redis"]["command"]


def test_dockerfile_builds_api_and_worker_targets_from_one_recipe():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, flags=re.MULTILINE)
    assert stages == ["build", "runtime", "api", "worker"]
    assert '"--factory"' in text and "reelflow.api.app:create_app" in text
    assert 'reelflow worker --pool \\"$WORK_POOL\\"' in text
    assert "COPY prefect.yaml" in text  # the init job deploys from it
    assert ".[scale]" in text  # prefect-redis for the server replicas


def test_compose_builds_the_targets_the_dockerfile_has(compose):
    targets = {s["build"]["target"] for s in compose["services"].values() if "build" in s}
    assert targets == {"api", "worker"}


def test_nginx_upgrades_websockets_and_streams_uploads():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    ws = conf[conf.index("location /ws/") :]
    ws = ws[: ws.index("}")]
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert "proxy_set_header Connection $connection_upgrade;" in ws
    assert "proxy_http_version 1.1;" in ws
    assert "server api:8000" in conf
    assert "proxy_request_buffering off;" in conf
