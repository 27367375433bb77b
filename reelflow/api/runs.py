"""What a caller may know about a run: ownership, status, children, cancellation.

Ownership comes from the store's task record; a batch's children are also accepted through the
user id in their progress status (the batch creates them, so the store learns of them late).
Status comes from the persisted Redis status hash, so it survives API restarts and late
viewers; Prefect's state fills in only when Redis has nothing (expired or lost).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
from prefect.client.schemas.objects import StateType
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.states import Cancelled, Cancelling

from reelflow.api.errors import ApiError, not_found, unavailable
from reelflow.api.relay import event_id_for_state
from reelflow.api.schemas import ChildOut, QueueOut, TaskStatusOut
from reelflow.api.services import Services
from reelflow.api.triggers import status_of
from reelflow.progress import TERMINAL
from reelflow.progress.reader import get_status

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
_PREFECT_ERRORS = (httpx.HTTPError, PrefectHTTPStatusError, OSError)
# Not started on any infrastructure yet: cancelling means setting Cancelled directly.
_NOT_STARTED = {StateType.SCHEDULED, StateType.PAUSED}
CREATION_WAIT_S = 10.0  # a cancel waits this long for a run that is still being created


@dataclass
class RunRef:
    """A run the caller owns."""

    task_id: str
    user_id: str
    kind: str = "reel"
    project_id: str | None = None
    parent_id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    run_id: str | None = None  # the flow run's id (default: the task id)
    pending: bool = False  # the flow run is still being created (then run_id is None)

    def __post_init__(self) -> None:
        if self.run_id is None and not self.pending:
            self.run_id = self.task_id


def is_run_id(task_id: str) -> bool:
    """Whether `task_id` has the shape of a flow run id (a UUID)."""
    try:
        uuid.UUID(task_id)
    except ValueError:
        return False
    return True


async def owner_of(services: Services, user_id: str, task_id: str) -> RunRef | None:
    """The caller's run `task_id`, or None for unknown ids and other users' runs alike."""
    if not is_run_id(task_id):
        return None
    store = await services.store()
    task = await asyncio.to_thread(store.get_task, user_id, task_id)
    if task is not None:
        return RunRef(
            task.id,
            user_id,
            task.kind,
            task.project_id,
            task.parent_id,
            dict(task.parameters or {}),
            task.created_at,
            task.run_id,
            task.pending,
        )
    status = await get_status(services.redis, services.settings, task_id)
    if status is not None and status.get("user_id") == user_id:
        return RunRef(task_id, user_id)
    return None


async def require_run(services: Services, user_id: str, task_id: str) -> RunRef:
    """`owner_of`, or 404 naming ``task_id``."""
    ref = await owner_of(services, user_id, task_id)
    if ref is None:
        raise not_found("task_id", "no such task")
    return ref


def output_urls(task_id: str) -> dict[str, str]:
    """Where a finished run's files are downloaded."""
    base = f"{API_PREFIX}/video/{task_id}/download"
    return {"video": base, "poster": f"{base}?file=poster"}


def reported_renditions(status: dict[str, Any] | None) -> dict[str, str]:
    """Aspect -> video path of each rendition the completed run reported (empty before)."""
    output = (status or {}).get("output")
    raw = output.get("renditions") if isinstance(output, dict) else None
    try:
        renditions = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(renditions, dict):
        return {}
    return {str(a): str(p) for a, p in renditions.items() if isinstance(p, str)}


def rendition_urls(task_id: str, status: dict[str, Any] | None) -> dict[str, str] | None:
    """Aspect -> download URL of every video a finished reel has (the main one first)."""
    aspects = list(reported_renditions(status))
    if not aspects:
        return None
    base = f"{API_PREFIX}/video/{task_id}/download"
    return {a: f"{base}?aspect={quote(a, safe='')}" for a in aspects}


async def run_status(services: Services, ref: RunRef) -> TaskStatusOut:
    """The run's status for the task-status endpoint."""
    status = await get_status(services.redis, services.settings, ref.task_id)
    if status is None:
        status = await _prefect_status(services, ref)
    done = status.get("status") == "completed"
    children = await batch_children(services, ref) if ref.kind == "batch" else None
    queue = await queue_spot(services, ref.task_id) if status.get("status") == "queued" else None
    scheduled = ref.parameters.get("scheduled_time") if ref.parameters else None
    return TaskStatusOut(
        task_id=ref.task_id,
        kind=ref.kind,
        project_id=ref.project_id,
        parent_id=ref.parent_id,
        status=status.get("status", "queued"),
        stage=status.get("stage") or "",
        progress=float(status.get("progress") or 0.0),
        details=status.get("details") or "",
        error=status.get("error"),
        seq=int(status.get("seq") or 0),
        attempt=int(status.get("attempt") or 1),
        created_at=status.get("created_at") or ref.created_at,
        updated_at=status.get("updated_at"),
        scheduled_time=scheduled,
        output=output_urls(ref.task_id) if done and ref.kind != "batch" else None,
        renditions=rendition_urls(ref.task_id, status) if done and ref.kind != "batch" else None,
        children=children,
        queue=queue,
        warnings=_warnings(status),
    )


def _warnings(status: dict) -> list[str]:
    """The run's warnings, as the completed event stored them in the status output."""
    output = status.get("output")
    text = output.get("warnings", "") if isinstance(output, dict) else ""
    return text.splitlines()


async def queue_spot(services: Services, task_id: str) -> QueueOut | None:
    """Where a waiting reel stands; None when Prefect cannot say (the status still answers)."""
    board = services.queue_board
    if board is None:
        return None
    try:
        spot = (await board.view([task_id])).spots.get(task_id)
    except _PREFECT_ERRORS as exc:
        log.warning("queue positions unavailable: %s", exc)
        return None
    return queue_out(spot) if spot is not None else None


def queue_out(spot) -> QueueOut:
    """A `QueueSpot` as the API shows it."""
    return QueueOut(
        position=spot.position,
        waiting=spot.waiting,
        work_queue=spot.work_queue,
        expected_start=spot.expected_start,
    )


async def _prefect_status(services: Services, ref: RunRef) -> dict[str, Any]:
    if ref.run_id is None:
        return {"status": "queued", "details": "creating the run"}
    client = services.require_prefect()
    try:
        flow_run = await client.read_flow_run(uuid.UUID(ref.run_id))
    except ObjectNotFound:
        return {"status": "failed", "error": "the run no longer exists in Prefect"}
    except _PREFECT_ERRORS as exc:
        raise unavailable("Prefect", str(exc) or type(exc).__name__) from None
    state = flow_run.state
    return {
        "status": status_of(flow_run),
        "details": state.name if state else "",
        "error": state.message if state and state.is_final() and not state.is_completed() else None,
    }


async def batch_children(services: Services, ref: RunRef) -> list[ChildOut]:
    """The batch's child runs: those Prefect knows as its subflows, recorded as the user's."""
    store = await services.store()
    known = {
        t.id
        for t in await asyncio.to_thread(
            store.list_tasks, ref.user_id, parent_id=ref.task_id, limit=1000
        )
    }
    if services.prefect is not None and ref.run_id is not None:
        try:
            runs = await services.prefect.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[uuid.UUID(ref.run_id)])
                ),
                limit=200,  # the server's page cap; a batch holds at most 50 reels
            )
        except _PREFECT_ERRORS as exc:  # the recorded children still answer
            log.warning("children of batch %s not read from Prefect: %s", ref.task_id, exc)
            runs = []
        for run in runs:
            if str(run.id) in known:
                continue
            project_id = (run.parameters.get("context") or {}).get("project_id")
            await asyncio.to_thread(
                store.record_task,
                ref.user_id,
                str(run.id),
                kind="reel",
                parent_id=ref.task_id,
                parameters={"project_id": project_id},
            )
            known.add(str(run.id))
    children = []
    for child_id in sorted(known):
        status = await get_status(services.redis, services.settings, child_id) or {}
        children.append(
            ChildOut(
                task_id=child_id,
                status=status.get("status", "queued"),
                progress=status.get("progress"),
            )
        )
    return children


async def cancel_run(services: Services, ref: RunRef) -> tuple[str, list[str]]:
    """Cancel the run (and a batch's children); return its new status and what was cancelled.

    A run no worker has started is set Cancelled at once (and its `cancelled` event written);
    a started one is set Cancelling, and the worker stops it (its hook reports `cancelled`).
    """
    client = services.require_prefect()
    targets = [ref.task_id]
    if ref.kind == "batch":
        targets += [c.task_id for c in await batch_children(services, ref)]
    results: dict[str, str] = {}
    for task_id in targets:
        results[task_id] = await _cancel_one(services, client, task_id, main=task_id == ref.task_id)
    cancelled = [t for t, s in results.items() if s in ("cancelled", "cancelling")]
    return results[ref.task_id], cancelled


async def cancel_one(services: Services, client, task_id: str) -> str:
    """Cancel one run that is not the caller's main target (a batch child, a deleted project's
    render): "cancelled", "cancelling", "finished" or "missing", never a 404 or 409."""
    return await _cancel_one(services, client, task_id, main=False)


async def flow_run_id(services: Services, task_id: str, *, wait_s: float = CREATION_WAIT_S) -> str:
    """The flow run of task `task_id` (the id itself for runs the API did not create); waits up
    to `wait_s` for a run still being created, then 503 (the client may ask again)."""
    store = await services.store()
    deadline = time.monotonic() + wait_s
    while True:
        task = await asyncio.to_thread(store.find_task, task_id)
        if task is None or not task.pending:
            return (task.run_id if task is not None else None) or task_id
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise unavailable("Prefect", "the run is still being created", retry_after_s=5)
        # this process's own creation is awaited; another process's is polled in the store
        if await services.intake.created(task_id, remaining):
            await asyncio.sleep(min(0.2, remaining))


async def _cancel_one(services: Services, client, task_id: str, *, main: bool) -> str:
    run_id = await flow_run_id(services, task_id)
    try:
        flow_run = await client.read_flow_run(uuid.UUID(run_id))
        state = flow_run.state
        if state is None or state.is_final():
            if main:
                name = state.name.lower() if state else "finished"
                raise ApiError(409, f"the run already finished ({name})", field="task_id")
            return "finished"
        if state.type in _NOT_STARTED:
            result = await client.set_flow_run_state(
                flow_run.id, Cancelled(message="cancelled by the user"), force=True
            )
            await _write_cancelled(services, task_id, result, flow_run.run_count)
            return "cancelled"
        if state.type != StateType.CANCELLING:
            await client.set_flow_run_state(
                flow_run.id, Cancelling(message="cancelled by the user"), force=True
            )
        return "cancelling"
    except ObjectNotFound:
        if main:
            raise not_found("task_id", "no such task") from None
        return "missing"
    except _PREFECT_ERRORS as exc:
        raise unavailable("Prefect", str(exc) or type(exc).__name__) from None


async def _write_cancelled(services: Services, task_id: str, result, run_count: int) -> None:
    # No worker will run a hook for a run that never started; write the event now, with the id
    # the event relay will derive from the same state, so it is stored once.
    writer = services.lifecycle
    state = getattr(result, "state", None)
    if writer is None or state is None or state.id is None:
        return
    current = await get_status(services.redis, services.settings, task_id)
    if current is not None and current["status"] not in TERMINAL:
        await writer.write(
            task_id,
            "cancelled",
            event_id=event_id_for_state(state.id),
            message="cancelled by the user",
            run_count=run_count,
        )
