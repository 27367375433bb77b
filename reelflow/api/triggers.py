"""Starting flow runs: queue choice, idempotency keys, schedules, and Prefect's errors.

A run is created from the deployment (its id remembered per API process), together with the
runs of the triggers that arrive meanwhile (reelflow/api/creation.py): the request returns as
soon as the run exists; a worker picks it up from its fair-share queue of the deployment's pool.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import DeploymentFlowRunCreate
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.states import Scheduled, to_state_create
from redis.exceptions import RedisError

from reelflow.api.creation import CreatedRun, Deployment, RunCreator, RunRefused
from reelflow.api.errors import ApiError, unavailable

log = logging.getLogger(__name__)

TAGS = ("reelflow", "api")
MAX_SCHEDULE_AHEAD = timedelta(days=366)
_RETRIGGER = {StateType.FAILED, StateType.CRASHED, StateType.CANCELLED, StateType.CANCELLING}
_MAX_RETRIGGERS = 5
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


async def start_run(
    client: PrefectClient,
    deployment: str,
    *,
    parameters: dict[str, Any],
    key: str,
    client_key: bool,
    queue: str,
    scheduled_time: datetime | None,
    deployment_ids: dict[str, Deployment] | None = None,
    creator: RunCreator | None = None,
    seen: Callable[[UUID], Awaitable[bool]] | None = None,
) -> CreatedRun:
    """Create the flow run (or get the one this key already created).

    A derived key whose run failed, crashed or was cancelled is chained to that run's id, so
    asking again starts a fresh run while a double submit still converges on one run.
    A client's own key always returns its run, whatever became of it.
    `deployment_ids` remembers each deployment (one API process's), so a trigger is one
    request to Prefect, not two; `creator` (one per API process) creates the runs of triggers
    that arrive together in one request. `seen(run_id)` tells whether a run existed before this
    trigger (the store's record): only such a run's state is read from Prefect. Without it,
    every run's state is read.
    """
    ids = {} if deployment_ids is None else deployment_ids
    creator = creator or RunCreator(client)
    run = DeploymentFlowRunCreate(
        parameters=parameters,
        state=to_state_create(Scheduled(scheduled_time=scheduled_time)),
        tags=list(TAGS),
    )
    run.work_queue_name = queue  # set apart, as Prefect's client does

    async def create(key: str) -> CreatedRun:
        keyed = run.model_copy(update={"idempotency_key": key})
        created = await _create(client, creator, deployment, ids, keyed)
        if seen is None or await seen(created.id):
            created = await _as_it_is(client, created)
        return created

    flow_run = await create(key)
    for _ in range(_MAX_RETRIGGERS):
        if client_key or flow_run.state_type not in _RETRIGGER:
            break
        key = hashlib.sha256(f"{key}:{flow_run.id}".encode()).hexdigest()[:_KEY_BYTES]
        flow_run = await create(key)
    return flow_run


async def _create(client, creator, deployment, ids, run) -> CreatedRun:
    try:
        # A remembered id may be stale (the deployment was deployed again): look it up again.
        for fresh in (deployment not in ids, True):
            if fresh:
                ids.pop(deployment, None)
            try:
                return await creator.create(await _deployment(client, deployment, ids), run)
            except PrefectHTTPStatusError as exc:
                # creating from a deleted deployment's id answers 404, not ObjectNotFound
                if fresh or exc.response.status_code != 404:
                    raise
            except ObjectNotFound:
                if fresh:
                    raise
        raise AssertionError("unreachable: the second pass looks the deployment up again")
    except ObjectNotFound:
        message = (
            f"deployment {deployment!r} not found; run `reelflow up` or `prefect deploy --all`"
        )
        raise unavailable("Prefect", message, retry_after_s=30) from None
    except PrefectHTTPStatusError as exc:
        status = exc.response.status_code
        if status < 500:  # our request was refused: a bug here, not the caller's input
            log.error("Prefect refused a run of %s: %s", deployment, exc.response.text[:500])
        raise unavailable("Prefect", f"HTTP {status} creating the run") from None
    except RunRefused as exc:  # the server refused this run of a group: a bug here too
        log.error("Prefect refused a run of %s: %s", deployment, str(exc)[:500])
        raise unavailable("Prefect", "the run was refused") from None
    except (httpx.HTTPError, OSError) as exc:
        raise unavailable("Prefect", str(exc) or type(exc).__name__) from None


async def _as_it_is(client: PrefectClient, created: CreatedRun) -> CreatedRun:
    """`created` with the state and queue its run has now (a run an earlier trigger made)."""
    try:
        run = await client.read_flow_run(created.id)
    except (PrefectHTTPStatusError, httpx.HTTPError, OSError) as exc:
        raise unavailable("Prefect", str(exc) or type(exc).__name__) from None
    return replace(
        created,
        state_type=run.state.type if run.state is not None else None,
        work_queue_name=run.work_queue_name,
        work_pool_name=run.work_pool_name or created.work_pool_name,
    )


async def _deployment(client: PrefectClient, name: str, known: dict[str, Deployment]) -> Deployment:
    if name not in known:
        found = await client.read_deployment_by_name(name)
        known[name] = Deployment(found.id, found.work_pool_name)
    return known[name]


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
