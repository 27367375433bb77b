"""Starting renders: one reel (`generate-advanced`) or a batch of them."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request

from reelflow.api.admission import admit, confirm, release
from reelflow.api.deps import CurrentUser, ServicesDep, StoreDep
from reelflow.api.errors import ApiError
from reelflow.api.intake import Accepted
from reelflow.api.limits import take_reels
from reelflow.api.routes.projects import owned_project
from reelflow.api.runs import API_PREFIX
from reelflow.api.safejson import SafeJsonRoute
from reelflow.api.schemas import BatchOut, BatchRequest, RenderRequest, TriggerOut
from reelflow.api.services import Services
from reelflow.api.triggers import idempotency_key, refuse_key_reuse, schedule_time
from reelflow.engine.errors import InputError
from reelflow.flows.runtime import RunContext
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


def _waiting_details(when: datetime | None) -> str:
    later = when is not None and when > datetime.now(UTC)
    return f"scheduled for {when.isoformat()}" if later else "waiting for a worker"


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
    recorded = {
        "request": body.model_dump(mode="json"),
        "deployment": deployment,
        "scheduled_time": when.isoformat() if when else None,
    }
    accepted = await _start_admitted(
        services,
        user,
        1,
        kind="reel",
        project_id=project.id,
        recorded=recorded,
        deployment=deployment,
        parameters=parameters,
        key=key,
        client_key=chosen,
        scheduled_time=when,
    )
    return TriggerOut(
        task_id=accepted.task_id,
        status=accepted.status,
        deployment=deployment,
        work_queue=accepted.work_queue,
        scheduled_time=when,
        **_links(request, accepted.task_id, user.id),
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
    recorded = {
        "project_ids": body.project_ids,
        "request": body.settings.model_dump(mode="json"),
        "deployment": deployment,
        "scheduled_time": when.isoformat() if when else None,
    }
    accepted = await _start_admitted(
        services,
        user,
        len(items),
        kind="batch",
        project_id=None,
        recorded=recorded,
        deployment=deployment,
        parameters=parameters,
        key=key,
        client_key=chosen,
        scheduled_time=when,
        # the children wait in the batch's own fair-share queue (premium ones jump the line)
        child_queue_parameter="child_work_queue",
    )
    return BatchOut(
        task_id=accepted.task_id,
        status=accepted.status,
        deployment=deployment,
        work_queue=accepted.work_queue,
        scheduled_time=when,
        children=[],
        **_links(request, accepted.task_id, user.id),
    )


async def _start_admitted(
    services: Services,
    user: User,
    reels: int,
    *,
    kind: str,
    project_id: str | None,
    recorded: dict[str, Any],
    deployment: str,
    parameters: dict[str, Any],
    key: str,
    client_key: bool,
    scheduled_time: datetime | None,
    child_queue_parameter: str | None = None,
) -> Accepted:
    """Reserve `reels` under the user's cap, accept the task in its fair-share queue (its run
    is created behind the answer, api/intake.py), and count it as the user's until it ends."""
    intake = services.intake
    board = services.queue_board
    retry_after = board.typical_run_s if board is not None else None
    admission = await admit(
        services.redis, services.settings, user, reels, retry_after_s=retry_after
    )
    if child_queue_parameter:
        parameters = parameters | {child_queue_parameter: admission.work_queue}
    try:
        accepted = await intake.accept(
            user.id,
            key=key,
            client_key=client_key,
            deployment=deployment,
            parameters=parameters,
            queue=admission.work_queue,
            scheduled_time=scheduled_time,
            kind=kind,
            project_id=project_id,
            recorded=recorded,
            details=_waiting_details(scheduled_time),
        )
    except BaseException:
        await release(services.redis, services.settings, admission)
        raise
    await confirm(services.redis, services.settings, admission, accepted.task_id)
    return accepted


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
