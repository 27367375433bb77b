"""Fixtures of the progress tests: the real Redis on 6379 under a unique prefix, and throwaway
redis-servers for outage tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from reelflow.settings import Settings
from tests.redis_server import ThrowawayRedis
from tests.services import missing_service

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def psettings(tmp_path: Path, prefix: str) -> Settings:
    """Settings on the shared Redis with this test's prefix and data folder."""
    return Settings(
        data_dir=tmp_path / "data",
        redis_url=REDIS_URL,
        redis_key_prefix=prefix,
        progress_flush_timeout_s=5.0,
        progress_update_interval=0.5,
    )


@pytest.fixture
def throwaway(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    """A started redis-server on a free port; stopped at teardown whatever happened."""
    if shutil.which("redis-server") is None:
        missing_service("redis-server binary not found: apt-get install redis-server")
    server = ThrowawayRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
