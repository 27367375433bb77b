"""Starting renders: one reel (`generate-advanced`) or a batch of them."""

from __future__ import annotations

import asyncio
import functools
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request

from reelflow.api.admission import admit, confirm, release
from reelflow.api.deps import CurrentUser, ServicesDep, StoreDep
from reelflow.api.errors import ApiError
from reelflow.api.limits import take_reels
from reelflow.api.routes.projects import owned_project
from reelflow.api.runs import API_PREFIX
from reelflow.api.safejson import SafeJsonRoute
from reelflow.api.schemas import BatchOut, BatchRequest, RenderRequest, TriggerOut
from reelflow.api.services import Services
from reelflow.api.triggers import idempotency_key, refuse_key_reuse, schedule_time, start_run
from reelflow.deployments.doorbell import ring
from reelflow.engine.errors import InputError
from reelflow.flows.runtime import RunContext
from reelflow.progress.reader import get_status, record_queued
from reelflow.store import User

router = APIRouter(route_class=SafeJsonRoute, tags=["videos"])

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Retries with the same key get the same run"),
]


def _links(request: Request, task_id: str, user_id: str) -> dict[str, str]:
    # A path, like status_url: an absolute URL would be built from the request's Host and
    # X-Forwarded-Proto headers, which any client can set (the client knows its own origin).
    socket = request.app.url_path_for("progress_socket", user_id=user_id)
    return {
        "status_url": f"{API_PREFIX}/video/task-status/{task_id}",
        "websocket_url": str(socket),
    }


async def _after_trigger(
    services: Services,
    user: User,
    flow_run,
    *,
    kind: str,
    project_id: str | None,
    parameters: dict[str, Any],
    when: datetime | None,
) -> str:
    """Record the run as the user's and mark it queued; return its current status."""
    task_id = str(flow_run.id)
    store = await services.store()
    await asyncio.to_thread(
        store.record_task,
        user.id,
        task_id,
        project_id=project_id,
        kind=kind,
        parameters=parameters,
    )
    later = when is not None and when > datetime.now(UTC)
    details = f"scheduled for {when.isoformat()}" if later else "waiting for a worker"
    await record_queued(services.redis, services.settings, task_id, user.id, details=details)
    status = await get_status(services.redis, services.settings, task_id)
    return status["status"] if status else "queued"


@router.post("/video/generate-advanced/{project_id}", status_code=202, response_model=TriggerOut)
async def generate_advanced(
    project_id: str,
    body: RenderRequest,
    request: Request,
    user: CurrentUser,
    store: StoreDep,
    services: ServicesDep,
    client_key: IdempotencyKey = None,
) -> TriggerOut:
    """Render a project with these settings: starts a `generate-reel` run and returns at once."""
    when = schedule_time(body.scheduled_time)
    project = await owned_project(store, user.id, project_id)
    spec = await asyncio.to_thread(store.project_spec, project, body.render_settings())
    services.require_prefect()  # 503 before any work when Prefect is not configured
    deployment = services.config.reel_deployment
    spec_json = spec.model_dump(mode="json")
    key, chosen = idempotency_key(
        user.id,
        client_key,
        project.id,
        project.updated_at,
        body.model_dump(mode="json"),
        spec_json,
        deployment,
    )
    prefix = services.settings.redis_key_prefix
    request_json = body.model_dump(mode="json")
    await refuse_key_reuse(services.redis, prefix, user.id, client_key, "reel", project.id,
                           request_json)  # fmt: skip
    await _rate_limit(services, user, 1)
    context = RunContext(user_id=user.id, project_id=project.id)
    parameters = {"spec": spec_json, "context": context.model_dump(mode="json")}
    _check_size(services, parameters, field="word_timings")
    flow_run, queue = await _start_admitted(
        services,
        user,
        1,
        deployment=deployment,
        parameters=parameters,
        key=key,
        client_key=chosen,
        scheduled_time=when,
    )
    recorded = {
        "request": body.model_dump(mode="json"),
        "deployment": deployment,
        "scheduled_time": when.isoformat() if when else None,
    }
    status = await _after_trigger(
        services, user, flow_run, kind="reel", project_id=project.id, parameters=recorded, when=when
    )
    return TriggerOut(
        task_id=str(flow_run.id),
        status=status,
        deployment=deployment,
        work_queue=queue,
        scheduled_time=when,
        **_links(request, str(flow_run.id), user.id),
    )


@router.post("/video/batch-generate-advanced", status_code=202, response_model=BatchOut)
async def batch_generate_advanced(
    body: BatchRequest,
    request: Request,
    user: CurrentUser,
    store: StoreDep,
    services: ServicesDep,
    client_key: IdempotencyKey = None,
) -> BatchOut:
    """Render several projects with the same settings as one `generate-batch` run."""
    if len(set(body.project_ids)) != len(body.project_ids):
        raise InputError("lists a project more than once", field="project_ids")
    when = schedule_time(body.settings.scheduled_time)
    overrides = body.settings.render_settings()
    items = []
    for i, project_id in enumerate(body.project_ids):
        project = await asyncio.to_thread(store.get_project, user.id, project_id)
        if project is None:
            raise ApiError(404, "no such project", field=f"project_ids.{i}")
        try:
            spec = await asyncio.to_thread(store.project_spec, project, overrides)
        except InputError as exc:
            raise InputError(exc.reason, field=f"project_ids.{i}.{exc.field or 'spec'}") from None
        context = RunContext(user_id=user.id, project_id=project.id)
        items.append(
            {"spec": spec.model_dump(mode="json"), "context": context.model_dump(mode="json")}
        )
    _check_size(services, {"items": items}, field="project_ids")
    services.require_prefect()
    deployment = services.config.batch_deployment
    key, chosen = idempotency_key(
        user.id, client_key, "batch", items, body.model_dump(mode="json"), deployment
    )
    await refuse_key_reuse(services.redis, services.settings.redis_key_prefix, user.id,
                           client_key, "batch", body.model_dump(mode="json"))  # fmt: skip
    await _rate_limit(services, user, len(items))
    parameters = {
        "items": items,
        "context": RunContext(user_id=user.id).model_dump(mode="json"),
        "child_deployment": services.config.reel_deployment,
    }
    flow_run, queue = await _start_admitted(
        services,
        user,
        len(items),
        deployment=deployment,
        parameters=parameters,
        key=key,
        client_key=chosen,
        scheduled_time=when,
        # the children wait in the batch's own fair-share queue (premium ones jump the line)
        child_queue_parameter="child_work_queue",
    )
    recorded = {
        "project_ids": body.project_ids,
        "request": body.settings.model_dump(mode="json"),
        "deployment": deployment,
        "scheduled_time": when.isoformat() if when else None,
    }
    status = await _after_trigger(
        services, user, flow_run, kind="batch", project_id=None, parameters=recorded, when=when
    )
    return BatchOut(
        task_id=str(flow_run.id),
        status=status,
        deployment=deployment,
        work_queue=queue,
        scheduled_time=when,
        children=[],
        **_links(request, str(flow_run.id), user.id),
    )


async def _start_admitted(
    services: Services,
    user: User,
    reels: int,
    *,
    deployment: str,
    parameters: dict[str, Any],
    key: str,
    client_key: bool,
    scheduled_time: datetime | None,
    child_queue_parameter: str | None = None,
):
    """Reserve `reels` under the user's cap, start the run in its fair-share queue, and count
    the run as the user's until it finishes; return the run and its queue."""
    client = services.require_prefect()
    board = services.queue_board
    retry_after = board.typical_run_s if board is not None else None
    admission = await admit(
        services.redis, services.settings, user, reels, retry_after_s=retry_after
    )
    if child_queue_parameter:
        parameters = parameters | {child_queue_parameter: admission.work_queue}
    try:
        flow_run = await start_run(
            client,
            deployment,
            parameters=parameters,
            key=key,
            client_key=client_key,
            queue=admission.work_queue,
            scheduled_time=scheduled_time,
            deployment_ids=services.deployment_ids,
            creator=services.run_creator,
            seen=functools.partial(_started_before, services, user),
        )
    except BaseException:
        await release(services.redis, services.settings, admission)
        raise
    await confirm(services.redis, services.settings, admission, str(flow_run.id))
    await ring(services.redis, services.settings, flow_run.work_pool_name, at=scheduled_time)
    return flow_run, flow_run.work_queue_name or admission.work_queue


async def _started_before(services: Services, user: User, run_id) -> bool:
    """Whether the API started this run for `user` before (an idempotency key's earlier run)."""
    store = await services.store()
    return await asyncio.to_thread(store.get_task, user.id, str(run_id)) is not None


def _check_size(services: Services, parameters: dict[str, Any], *, field: str) -> None:
    """413 when the run's parameters are too big for a flow run (Prefect would refuse them)."""
    size = len(json.dumps(parameters, separators=(",", ":"), default=str))
    limit = services.settings.api_max_run_parameters_kb * 1024
    if size > limit:
        message = (
            f"the run would carry {size / 1024:.0f} KiB of parameters, over the "
            f"{limit / 1024:.0f} KiB a run may take"
        )
        if field == "project_ids":
            message += "; render fewer projects at once"
        raise ApiError(413, message, field=field)


async def _rate_limit(services: Services, user: User, count: int) -> None:
    config = services.config
    await take_reels(
        services.redis,
        services.settings.redis_key_prefix,
        user.id,
        count,
        limit=config.rate_limit_reels,
        window_s=config.rate_limit_window_s,
    )
