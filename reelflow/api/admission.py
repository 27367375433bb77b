"""Admission: how many reels a user may have waiting plus running, and which queue a new one
joins (its fair-share tier, reelflow/deployments/queues.py).

Per user, Redis keeps a hash ``{p}:active:{user_id}`` of the runs not yet finished, each with
the number of reels it stands for (a batch counts every reel) and when it was admitted:
``task_id -> "reels:epoch"``. A trigger first drops finished runs (their progress status is
final or gone), then reserves its reels atomically (a Lua script: concurrent triggers of one
user cannot both slip under the cap), creates the run, and swaps the reservation for the run id.
A reservation whose trigger died is dropped after `RESERVATION_TTL_S`.

Over the cap: 429 with ``Retry-After`` (about one typical reel's run time, when one of the
user's reels should have finished).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from reelflow.api.errors import ApiError, unavailable
from reelflow.deployments.queues import queue_for
from reelflow.progress import TERMINAL
from reelflow.progress.keys import ProgressKeys
from reelflow.settings import Settings
from reelflow.store import User

RESERVATION = "reserved:"
RESERVATION_TTL_S = 120
DEFAULT_RETRY_AFTER_S = 30

_RESERVE_LUA = """
local total = 0
for _, value in ipairs(redis.call('HVALS', KEYS[1])) do
  total = total + tonumber(string.match(value, '^(%d+)'))
end
local cap, count = tonumber(ARGV[1]), tonumber(ARGV[2])
if cap > 0 and total + count > cap then return {0, total} end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[2] .. ':' .. ARGV[4])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return {1, total}
"""


@dataclass(frozen=True)
class Admission:
    """A reservation of `reels` reels for a user, and the queue their run joins."""

    user_id: str
    reels: int
    active: int  # reels the user had waiting or running before this one
    work_queue: str
    field: str


def active_key(settings: Settings, user_id: str) -> str:
    return f"{settings.redis_key_prefix}:active:{user_id}"


async def active_reels(client: aioredis.Redis, settings: Settings, user_id: str) -> int:
    """Reels `user_id` has waiting or running now (finished runs are dropped on the way)."""
    key = active_key(settings, user_id)
    entries = {_text(k): _text(v) for k, v in (await client.hgetall(key)).items()}
    keys = ProgressKeys.from_settings(settings)
    runs = [k for k in entries if not k.startswith(RESERVATION)]
    finished = []
    if runs:
        async with client.pipeline(transaction=False) as pipe:
            for task_id in runs:
                pipe.hget(keys.status(task_id), "status")
            statuses = await pipe.execute()
        finished = [
            t for t, s in zip(runs, statuses, strict=True) if s is None or _text(s) in TERMINAL
        ]
    now = time.time()
    stale = [
        k
        for k, v in entries.items()
        if k.startswith(RESERVATION) and now - float(v.split(":")[1]) > RESERVATION_TTL_S
    ]
    if finished or stale:
        await client.hdel(key, *finished, *stale)
    gone = set(finished) | set(stale)
    return sum(int(v.split(":")[0]) for k, v in entries.items() if k not in gone)


async def admit(
    client: aioredis.Redis,
    settings: Settings,
    user: User,
    reels: int,
    *,
    retry_after_s: Callable[[], Awaitable[float]] | None = None,
) -> Admission:
    """Reserve `reels` reels for `user` under `settings.max_queued_per_user`, or raise 429.

    `retry_after_s` estimates the wait for the 429's Retry-After; it is only called on a
    refusal (it reads the queue from Prefect: not a cost every trigger should pay).
    """
    cap = settings.max_queued_per_user
    field = f"{RESERVATION}{uuid.uuid4().hex}"
    try:
        await active_reels(client, settings, user.id)
        accepted, active = await client.eval(
            _RESERVE_LUA,
            1,
            active_key(settings, user.id),
            str(cap),
            str(reels),
            field,
            f"{time.time():.3f}",
            str(settings.progress_ttl_s),
        )
    except (aioredis.RedisError, OSError) as exc:
        raise unavailable("Redis", str(exc)) from None
    if not accepted:
        estimate = await retry_after_s() if retry_after_s is not None else None
        wait = max(1, round(estimate or DEFAULT_RETRY_AFTER_S))
        message = (
            f"you have {active} reels waiting or running (at most {cap}, this asks for "
            f"{reels}); try again in {wait} s"
        )
        headers = {"Retry-After": str(wait)}
        raise ApiError(429, message, field="max_queued_per_user", headers=headers)
    queue = queue_for(user.plan, int(active), tiers=settings.fair_share_tiers)
    return Admission(user.id, reels, int(active), queue, field)


async def confirm(client: aioredis.Redis, settings: Settings, admission: Admission, task_id: str):
    """The run exists: it now holds the reservation's reels (until it finishes)."""
    key = active_key(settings, admission.user_id)
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(key, task_id, f"{admission.reels}:{time.time():.3f}")
        pipe.hdel(key, admission.field)
        pipe.expire(key, settings.progress_ttl_s)
        await pipe.execute()


async def release(client: aioredis.Redis, settings: Settings, admission: Admission) -> None:
    """The trigger failed: give the reservation back."""
    # if Redis is away, the reservation expires on its own (RESERVATION_TTL_S)
    with contextlib.suppress(aioredis.RedisError, OSError):
        await client.hdel(active_key(settings, admission.user_id), admission.field)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
