"""The workers' doorbell: a Redis message that makes every reel worker poll Prefect now.

Workers find runs by polling Prefect's work queues, and each poll is a request plus bookkeeping
on the server: at a 2 s interval, two idle workers cost the server about 2.5 % of a core
(bench/README.md, Backlog). Polling rarely saves that, but a run created or a slot freed just
after a poll would then wait for the next one. So whoever creates a run rings its pool's bell
(`{prefix}:worker-doorbell:{pool}`: the API after every trigger), a worker rings itself when one
of its runs ends (deployments/prompt_worker.py), and the long poll is only the safety net for
what rings nobody (a run the recovery automation resubmits, a ring lost while Redis was away).
The queue stays Prefect's: a ring carries no run, only "look now" and, for a run scheduled
later, when to look.
"""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import datetime

from reelflow.settings import Settings

log = logging.getLogger(__name__)

RING_TIMEOUT_S = 0.5  # a ring is a hint: never hold a trigger up for it


def doorbell_channel(settings: Settings, pool: str) -> str:
    """The pub/sub channel the workers of `pool` listen on (a ring wakes only that pool's)."""
    return f"{settings.redis_key_prefix}:worker-doorbell:{pool}"


def ring_message(at: datetime | None = None) -> str:
    """The ring's body: empty for "now", or the time a scheduled run becomes due."""
    return json.dumps({"at": at.timestamp()} if at is not None else {})


def due_time(message: bytes | str) -> float | None:
    """When the ring asks the workers to look (epoch seconds), or None for now."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        at = json.loads(message).get("at")
        return float(at) if at is not None else None
    return None


async def ring(redis, settings: Settings, pool: str | None, *, at: datetime | None = None) -> None:
    """Ring `pool`'s workers (asyncio Redis client); a failure is logged, never raised."""
    import asyncio

    if not pool:
        return
    try:
        await asyncio.wait_for(
            redis.publish(doorbell_channel(settings, pool), ring_message(at)), RING_TIMEOUT_S
        )
    except Exception as exc:  # the safety-net poll still finds the run
        log.debug("worker doorbell not rung: %s", exc)


def ring_sync(settings: Settings, pool: str, *, at: datetime | None = None) -> None:
    """Ring `pool`'s workers from synchronous code (a stopping worker handing runs back)."""
    import redis

    try:
        client = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=RING_TIMEOUT_S, socket_timeout=RING_TIMEOUT_S
        )
        with contextlib.closing(client):
            client.publish(doorbell_channel(settings, pool), ring_message(at))
    except Exception as exc:
        log.debug("worker doorbell not rung: %s", exc)
