"""A run's status, cancellation and download."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from reelflow.api.deps import CurrentUser, ServicesDep, StoreDep
from reelflow.api.errors import ApiError
from reelflow.api.runs import (
    cancel_run,
    output_urls,
    rendition_urls,
    reported_renditions,
    require_run,
    run_status,
)
from reelflow.api.safejson import SafeJsonRoute
from reelflow.api.schemas import CancelOut, ReelOut, TaskStatusOut
from reelflow.flows.confine import aspect_target
from reelflow.presets import AspectName
from reelflow.progress.reader import get_status

router = APIRouter(route_class=SafeJsonRoute, tags=["videos"])

_FILES = {"video": ("reel.mp4", "video/mp4"), "poster": ("reel.jpg", "image/jpeg")}


@router.get("/video/task-status/{task_id}", response_model=TaskStatusOut)
async def task_status(task_id: str, user: CurrentUser, services: ServicesDep) -> TaskStatusOut:
    """Stage, progress, status, error, output URLs and times of one of the caller's runs."""
    ref = await require_run(services, user.id, task_id)
    return await run_status(services, ref)


@router.get("/video/reels", response_model=list[ReelOut])
async def list_reels(
    user: CurrentUser,
    store: StoreDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ReelOut]:
    """The caller's reels, newest first, with download URLs for the finished ones."""
    tasks = await asyncio.to_thread(store.list_tasks, user.id, limit=limit)
    reels = []
    for task in tasks:
        if task.kind != "reel":
            continue
        status = await get_status(services.redis, services.settings, task.id)
        state = status["status"] if status else "unknown"  # expired from Redis
        reels.append(
            ReelOut(
                task_id=task.id,
                project_id=task.project_id,
                status=state,
                created_at=task.created_at,
                output=output_urls(task.id) if state == "completed" else None,
                renditions=rendition_urls(task.id, status) if state == "completed" else None,
            )
        )
    return reels


@router.post("/video/task/{task_id}/cancel", status_code=202, response_model=CancelOut)
async def cancel_task(task_id: str, user: CurrentUser, services: ServicesDep) -> CancelOut:
    """Cancel a scheduled, queued or running run (a batch's children too); 409 if finished."""
    ref = await require_run(services, user.id, task_id)
    status, cancelled = await cancel_run(services, ref)
    return CancelOut(task_id=ref.task_id, status=status, cancelled=cancelled)


@router.get(
    "/video/{task_id}/download",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}, "image/jpeg": {}}}},
)
async def download(
    task_id: str,
    user: CurrentUser,
    services: ServicesDep,
    file: Annotated[Literal["video", "poster"], Query(description="The mp4 or its poster")] = (
        "video"
    ),
    aspect: Annotated[
        AspectName | None,
        Query(description="One rendition of a reel rendered in several aspects (default: main)"),
    ] = None,
) -> FileResponse:
    """The finished reel (mp4) or its poster frame (jpeg), of its main or another aspect."""
    ref = await require_run(services, user.id, task_id)
    status = await get_status(services.redis, services.settings, ref.task_id)
    state = status["status"] if status else "unknown"
    if state != "completed" or ref.kind == "batch":
        what = (
            "a batch has no single video; download its children"
            if ref.kind == "batch"
            else (f"the run has not finished (status: {state})")
        )
        raise ApiError(409, what, field="task_id")
    name, media_type = _FILES[file]
    reported = (status.get("output") or {}).get(file)
    renditions = reported_renditions(status)
    if aspect is not None and aspect != next(iter(renditions), None):  # not the main video
        if aspect not in renditions:
            has = ", ".join(renditions) or "one aspect only"
            raise ApiError(404, f"this reel has no {aspect} video (it has {has})", field="aspect")
        video = Path(renditions[aspect])
        reported = str(video if file == "video" else video.with_suffix(".jpg"))
        name = aspect_target(Path(name), aspect).name
    path = _output_path(services.settings.output_dir, ref.task_id, reported, name)
    if path is None:
        raise ApiError(410, "the file is no longer available", field="file")
    suffix = f"-{aspect.replace(':', 'x')}" if aspect is not None else ""
    return FileResponse(
        path, media_type=media_type, filename=f"reel-{ref.task_id}{suffix}{Path(name).suffix}"
    )


def _output_path(output_dir: Path, task_id: str, reported: str | None, name: str) -> Path | None:
    """The file the run reported, if it lies inside the outputs folder; else the default place.

    Paths come from the run's own event, but they are still checked: the API serves nothing
    outside the outputs folder.
    """
    root = output_dir.resolve()
    candidates = [Path(reported)] if reported else []
    candidates.append(root / task_id / name)
    for candidate in candidates:
        path = candidate.resolve()
        if path.is_relative_to(root) and path.is_file():
            return path
    return None
