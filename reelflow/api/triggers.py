"""What a trigger is checked against: idempotency keys, start times, and how a flow run's state
reads as a task status. The task itself is accepted by reelflow/api/intake.py."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect.client.schemas.objects import FlowRun, StateType
from redis.exceptions import RedisError

from reelflow.api.errors import ApiError, unavailable

log = logging.getLogger(__name__)

MAX_SCHEDULE_AHEAD = timedelta(days=366)
_KEY_BYTES = 32


def schedule_time(value: datetime | None, *, now: datetime | None = None) -> datetime | None:
    """A validated start time: aware (naive means UTC), at most a year ahead; None = now."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    now = now or datetime.now(UTC)
    if value - now > MAX_SCHEDULE_AHEAD:
        raise ApiError(422, "must be at most a year from now", field="scheduled_time")
    return value


def idempotency_key(user_id: str, client_key: str | None, *parts: Any) -> tuple[str, bool]:
    """The run's idempotency key and whether the client chose it.

    A client's ``Idempotency-Key`` is scoped to the user (two users may pick the same string).
    Without one, the key hashes the user and everything that defines the run, so a double
    submit returns the first run instead of rendering twice.
    """
    if client_key is not None:
        if not 1 <= len(client_key) <= 200:
            raise ApiError(422, "must be 1 to 200 characters", field="Idempotency-Key")
        material: Any = ["client", user_id, client_key]
    else:
        material = ["derived", user_id, *parts]
    blob = json.dumps(material, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:_KEY_BYTES], client_key is not None


IDEMPOTENCY_TTL_S = 7 * 24 * 3600


async def refuse_key_reuse(
    redis, prefix: str, user_id: str, client_key: str | None, *request: Any
) -> None:
    """422 when the caller's ``Idempotency-Key`` already named a different request.

    The first request under a key records a digest of what was asked (for a week, Redis);
    the same request again is a retry and gets its run, anything else is a client bug that
    would otherwise silently get the old run back.
    """
    if client_key is None:
        return
    blob = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
    digest = hashlib.sha256(blob.encode()).hexdigest()
    slot = hashlib.sha256(f"{user_id}:{client_key}".encode()).hexdigest()[:32]
    key = f"{prefix}:idempotency:{slot}"
    try:
        first = await redis.set(key, digest, nx=True, ex=IDEMPOTENCY_TTL_S)
        recorded = None if first else await redis.get(key)
    except (OSError, TimeoutError, RedisError) as exc:
        raise unavailable("Redis", str(exc)) from None
    if isinstance(recorded, bytes):
        recorded = recorded.decode()
    if recorded is not None and recorded != digest:
        message = "was already used for a different request; use a new key for this one"
        raise ApiError(422, message, field="Idempotency-Key")


def status_of(flow_run: FlowRun) -> str:
    """The progress status a flow run's Prefect state corresponds to."""
    state = flow_run.state.type if flow_run.state is not None else StateType.SCHEDULED
    return {
        StateType.RUNNING: "running",
        StateType.COMPLETED: "completed",
        StateType.FAILED: "failed",
        StateType.CRASHED: "crashed",
        StateType.CANCELLED: "cancelled",
        StateType.CANCELLING: "running",
    }.get(state, "queued")
