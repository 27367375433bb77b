"""The clients one API process shares: store, Redis, Prefect, and the background relay.

Created in the app's lifespan (never at import) and reached through `reelflow.api.deps`.
A service that is down at start-up does not stop the API from starting: health reports it and
the endpoints that need it answer 503 until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from prefect.client.orchestration import PrefectClient

from reelflow.api.cancellation import stop_tasks
from reelflow.api.config import ApiConfig
from reelflow.api.creation import Deployment, RunCreator
from reelflow.api.errors import unavailable
from reelflow.api.intake import Intake
from reelflow.api.queue_board import QueueBoard
from reelflow.api.relay import LifecycleWriter
from reelflow.progress.reader import statuses_of
from reelflow.settings import Settings
from reelflow.store import Store

log = logging.getLogger(__name__)

_STORE_RETRY_S = 5.0
_CLOSE_GRACE_S = 5.0


@dataclass
class Services:
    """Long-lived clients of one API process."""

    settings: Settings
    config: ApiConfig
    redis: aioredis.Redis
    prefect: PrefectClient | None
    _store: Store | None = None
    _store_error: str = "not started"
    _store_tried_at: float = 0.0
    _store_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    background: list[asyncio.Task] = field(default_factory=list)
    lifecycle: LifecycleWriter | None = None
    _queue_board: QueueBoard | None = None
    deployment_ids: dict[str, Deployment] = field(default_factory=dict)  # by name, see intake
    _creator: RunCreator | None = None
    _intake: Intake | None = None

    @property
    def run_creator(self) -> RunCreator:
        """Creates flow runs, `api_run_creations` requests at once (see api/creation.py)."""
        if self._creator is None:
            self._creator = RunCreator(
                self.require_prefect(), slots=self.settings.api_run_creations
            )
        return self._creator

    @property
    def intake(self) -> Intake:
        """Accepts triggers and creates their flow runs behind them (see api/intake.py)."""
        if self._intake is None:
            board = self.queue_board
            self._intake = Intake(
                client=self.require_prefect(),
                creator=self.run_creator,
                store=self.store,
                redis=self.redis,
                settings=self.settings,
                deployments=self.deployment_ids,
                lifecycle=self.lifecycle,
                on_created=board.created if board is not None else None,
            )
        return self._intake

    @property
    def queue_board(self) -> QueueBoard | None:
        """Queue positions of waiting reels (None without a Prefect API)."""
        if self._queue_board is None and self.prefect is not None:
            self._queue_board = QueueBoard(
                self.prefect,
                refresh_s=self.settings.queue_status_refresh_s,
                statuses=functools.partial(statuses_of, self.redis, self.settings),
            )
        return self._queue_board

    async def store(self) -> Store:
        """The project store; opened on first use and re-tried while the database is down."""
        if self._store is not None:
            return self._store
        async with self._store_lock:
            if self._store is None and time.monotonic() - self._store_tried_at > _STORE_RETRY_S:
                self._store_tried_at = time.monotonic()
                try:
                    self._store = await asyncio.to_thread(Store, self.settings)
                except Exception as exc:  # any driver error: the database is not usable yet
                    self._store_error = str(exc).splitlines()[0] if str(exc) else repr(exc)
                    log.warning("project store unavailable: %s", self._store_error)
        if self._store is None:
            raise unavailable("database", self._store_error)
        return self._store

    def require_prefect(self) -> PrefectClient:
        """The Prefect client, or 503 when no Prefect API is configured."""
        if self.prefect is None:
            raise unavailable("Prefect", "PREFECT_API_URL is not set", retry_after_s=60)
        return self.prefect

    async def close(self, grace_s: float = _CLOSE_GRACE_S) -> None:
        """Stop background tasks and close every client, in bounded time.

        A shutdown that never ends keeps a replica from restarting, so each step gets `grace_s`
        and what overruns it is logged and left behind.
        """
        if self._intake is not None:  # what is not created by then stays pending in the store
            await _bounded("run intake", self._intake.close(grace_s), grace_s + 1)
        await stop_tasks(self.background, grace_s)
        for task in self.background:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.warning("background task %s had failed: %r", task.get_name(), task.exception())
        if self.prefect is not None:
            await _bounded("Prefect client", self.prefect.__aexit__(None, None, None), grace_s)
        if self.lifecycle is not None:
            await _bounded("progress sink", asyncio.to_thread(self.lifecycle.close), grace_s)
        await _bounded("Redis client", self.redis.aclose(), grace_s)
        if self._store is not None:
            await _bounded("project store", asyncio.to_thread(self._store.close), grace_s)


async def _bounded(what: str, closing: Awaitable[object], grace_s: float) -> None:
    try:
        async with asyncio.timeout(grace_s):
            await closing
    except TimeoutError:
        log.error("closing the %s took over %.0f s; left open", what, grace_s)
    except Exception as exc:  # a client that fails to close must not stop the others
        log.warning("closing the %s failed: %s", what, exc)


async def open_services(settings: Settings, config: ApiConfig, prefect_api_url: str | None):
    """Create the clients (without contacting anything that may be down)."""
    client = aioredis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=2.0, health_check_interval=30
    )
    prefect = None
    if prefect_api_url:
        prefect = PrefectClient(api=prefect_api_url)
        await prefect.__aenter__()
    services = Services(settings=settings, config=config, redis=client, prefect=prefect)
    with contextlib.suppress(Exception):
        await services.store()  # open it now if we can; otherwise on first use
    return services
