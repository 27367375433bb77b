"""Shared fixtures: isolated settings and tiny media made by the tests themselves."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from reelflow.settings import Settings
from tests import mediatools
from tests.services import missing_service

# `make test` runs the suite on two xdist workers (`-n 2 --dist loadscope`, scheduled by the
# groups below): most of the multi-host and reliability stacks' time is spent waiting (missed
# heartbeats, queued reels), so the rest of the suite runs beside them. Those stacks share one
# group, so they never run at once and never compete with each other for the two cores, and it
# goes first, so the longest chain starts at once; the API package shares its package-scoped
# worker and server as one group; every other module is a group of its own (its module
# fixtures are made once). The groups are given by a scheduler, not `xdist_group` marks:
# pytest 9.2 no longer lets xdist's loadgroup rename the node ids it reads them from.
STACKS = ("tests/multihost/", "tests/reliability/")


def xdist_group_of(nodeid: str) -> str:
    """The xdist group of a test: `stacks`, `api`, or its module's path."""
    path = nodeid.split("::", 1)[0]
    if path.startswith(STACKS):
        return "stacks"
    if path.startswith("tests/api/"):
        return "api"
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: xdist_group_of(item.nodeid) != "stacks")  # stable: stacks first


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Send each group to one worker, in collection order (see `xdist_group_of`)."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group_of(nodeid)

    return GroupScheduling(config, log)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose every file lives under this test's temporary folder."""
    return Settings(data_dir=tmp_path / "data", enable_gpu_acceleration=False)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def bg_video(media: Path) -> Path:
    return mediatools.lavfi_video(media / "bg.mp4", "testsrc2", seconds=2.0)


@pytest.fixture(scope="session")
def bg_image(media: Path) -> Path:
    return mediatools.detailed_image(media / "still.png")


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_up() -> None:
    """Skip loudly when the shared Redis is down: tests never mock it."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        missing_service(
            f"this test needs the real Redis, but Redis at 127.0.0.1:6379 is down ({exc}): "
            "start it with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''`"
        )
    finally:
        client.close()


@pytest.fixture
def rclient(redis_up: None) -> Iterator[redis.Redis]:
    """Sync client (str responses) on the shared Redis."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def prefix(rclient: redis.Redis) -> Iterator[str]:
    """A key prefix of this test only; its keys are deleted afterwards."""
    value = f"test-{uuid.uuid4().hex[:12]}"
    yield value
    keys = list(rclient.scan_iter(f"{value}:*", count=500))
    if keys:
        rclient.delete(*keys)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real temporary Prefect server for the whole session (its API URL)."""
    os.environ.setdefault("PREFECT_HOME", str(tmp_path_factory.mktemp("prefect-home")))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS", "2")
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    # Without the heartbeat setting each flow run spends ~1 s joining its heartbeat thread.
    with (
        prefect_test_harness(server_startup_timeout=60),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def deployed_once(prefect_server: str) -> str:
    """prefect.yaml deployed once on the session's server (pools and queues too)."""
    from tests.deployed import deploy

    deploy(prefect_server)
    return prefect_server


@pytest.fixture
def deployed(deployed_once: str) -> str:
    """The session's deployments, with no run an earlier test left waiting or running."""
    from tests.deployed import cancel_unfinished_runs

    cancel_unfinished_runs(deployed_once)
    return deployed_once
