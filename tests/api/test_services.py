"""The API's shared services shut down in bounded time, whatever their background tasks do."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import redis.asyncio as aioredis

from reelflow.api.cancellation import cancel_requested, stop_tasks
from reelflow.api.config import ApiConfig
from reelflow.api.services import Services
from reelflow.settings import Settings


def _services(settings: Settings) -> Services:
    return Services(
        settings=settings,
        config=ApiConfig.from_settings(settings),
        redis=aioredis.Redis.from_url(settings.redis_url),
        prefect=None,
    )


async def _reconnecting_loop(cancels_swallowed: list[int]) -> None:
    """Like an event-stream relay whose client turned one cancellation into an error."""
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if cancels_swallowed[0] == 0:
                cancels_swallowed[0] += 1
                continue  # swallowed: the loop "reconnects" and waits again
            raise


@pytest.mark.timeout(60)  # the old close() awaited the task, and hung
def test_close_stops_a_task_that_swallowed_one_cancellation(api_settings: Settings) -> None:
    async def scenario() -> tuple[float, bool, int]:
        services = _services(api_settings)
        swallowed = [0]
        task = asyncio.create_task(_reconnecting_loop(swallowed), name="relay")
        services.background.append(task)
        await asyncio.sleep(0)
        started = time.monotonic()
        await services.close(grace_s=5.0)
        return time.monotonic() - started, task.cancelled(), swallowed[0]

    elapsed, cancelled, swallowed = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert swallowed == 1 and cancelled
    assert elapsed < 2.0  # re-cancelled after 0.5 s, not after the grace period


@pytest.mark.timeout(60)
def test_a_task_that_will_not_stop_is_logged_and_left(caplog) -> None:
    async def scenario() -> tuple[float, bool]:
        release = asyncio.Event()

        async def stubborn() -> None:
            while not release.is_set():
                try:
                    await release.wait()
                except asyncio.CancelledError:
                    continue

        task = asyncio.create_task(stubborn(), name="stubborn")
        await asyncio.sleep(0)
        started = time.monotonic()
        await stop_tasks([task], grace_s=1.0)
        elapsed, still_running = time.monotonic() - started, not task.done()
        release.set()  # let asyncio.run finish
        await task
        return elapsed, still_running

    with caplog.at_level(logging.ERROR, logger="reelflow.api.cancellation"):
        elapsed, still_running = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert still_running and 0.9 <= elapsed < 3.0
    assert "stubborn did not stop" in caplog.text


async def _library_read() -> None:
    """A read whose library turns a cancellation into its own error (as redis-py can)."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        raise ConnectionError("Connection closed by server.") from None


@pytest.mark.timeout(60)
def test_a_retry_loop_sees_a_cancellation_the_library_lost() -> None:
    async def relay_like(seen: list[str]) -> None:
        while True:
            try:
                await _library_read()
            except ConnectionError:
                seen.append("error")
                if cancel_requested():
                    raise asyncio.CancelledError from None
            await asyncio.sleep(0)

    async def scenario() -> tuple[list[str], bool, bool]:
        seen: list[str] = []
        task = asyncio.create_task(relay_like(seen))
        await asyncio.sleep(0.01)
        assert not cancel_requested()  # this (main) task was never asked to stop
        task.cancel()  # one cancel, as asyncio's final clean-up sends
        done, _ = await asyncio.wait({task}, timeout=5)
        return seen, task in done, task.cancelled()

    seen, finished, cancelled = asyncio.run(scenario())
    assert seen == ["error"] and finished and cancelled
