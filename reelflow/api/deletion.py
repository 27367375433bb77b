"""Deleting a project takes what was derived from it: its renders, outputs, history and cache.

Order matters. The project's renders that have not finished are cancelled through Prefect first
(queued and scheduled ones are set Cancelled, running ones Cancelling), so nothing new is
written for a project that is going; if Prefect cannot be reached the project is not deleted
(503, try again). Then the project and its voice and background files go (`Store`), then its
runs' outputs, their Redis status and history, and the user's cache entries the project used.

Everything is looked up under the caller's user id: another user's runs, outputs, keys and cache
entries are never touched, whatever ids a project or a run's parameters name.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from pathlib import Path

from reelflow.api.runs import RunRef, batch_children, cancel_one, is_run_id
from reelflow.api.services import Services
from reelflow.progress import TERMINAL
from reelflow.progress.keys import ProgressKeys
from reelflow.progress.reader import get_status
from reelflow.settings import Settings
from reelflow.store.schema import Task
from reelflow.tasks.caching import remove_project_entries

log = logging.getLogger(__name__)


async def project_runs(services: Services, user_id: str, project_id: str) -> list[Task]:
    """The user's runs of `project_id`: its own renders and its reels in batches (a running
    batch's children are looked up first, since the store learns of them late)."""
    store = await services.store()
    tasks = await asyncio.to_thread(store.list_tasks, user_id, limit=1000)
    for batch in (t for t in tasks if t.kind == "batch"):
        status = await get_status(services.redis, services.settings, batch.id)
        if status is None or status["status"] not in TERMINAL:
            await batch_children(services, RunRef(batch.id, user_id, kind="batch"))
            tasks = await asyncio.to_thread(store.list_tasks, user_id, limit=1000)
    return [
        t
        for t in tasks
        if t.kind == "reel"
        and is_run_id(t.id)
        and (t.project_id == project_id or (t.parameters or {}).get("project_id") == project_id)
    ]


async def cancel_runs(services: Services, runs: list[Task]) -> dict[str, str]:
    """Cancel every run that has not finished; run id -> what became of it."""
    outcome: dict[str, str] = {}
    live = []
    for run in runs:
        status = await get_status(services.redis, services.settings, run.id)
        if status is not None and status["status"] in TERMINAL:
            outcome[run.id] = status["status"]
        else:
            live.append(run.id)
    if live:
        client = services.require_prefect()  # 503 before anything is deleted
        for run_id in live:
            outcome[run_id] = await cancel_one(services, client, run_id)
    return outcome


async def forget_runs(services: Services, user_id: str, run_ids: list[str]) -> None:
    """Delete the runs' Redis status, history and idempotency keys and their place in the
    user's task index, and mark them forgotten: an event still on its way (the relay's
    `cancelled`, a hook of a run that was stopping) is then dropped instead of bringing the
    run's keys back. The mark lives as long as a run's history would have."""
    if not run_ids:
        return
    keys = ProgressKeys.from_settings(services.settings)
    ttl_s = int(services.settings.progress_ttl_s)
    pipe = services.redis.pipeline(transaction=True)
    for run_id in run_ids:
        pipe.set(keys.forgotten(run_id), "1", ex=ttl_s)
    pipe.delete(*[name for r in run_ids for name in (keys.status(r), keys.events(r), keys.seen(r))])
    pipe.zrem(keys.user_tasks(user_id), *run_ids)
    await pipe.execute()


def remove_derived_files(
    settings: Settings, user_id: str, project_id: str, run_ids: list[str]
) -> None:
    """Remove the runs' output folders and the user's cache entries the project used."""
    root = settings.output_dir.resolve()
    for run_id in run_ids:
        folder = (root / str(uuid.UUID(run_id))).resolve()
        if folder.is_relative_to(root) and folder != root:
            shutil.rmtree(folder, ignore_errors=True)
    keys = remove_project_entries(settings.cache_dir, user_id, project_id)
    _forget_records(settings, keys)


def _forget_records(settings: Settings, keys: list[str]) -> None:
    """Drop the Prefect result records of removed cache entries, when they are local files
    (a record without its folder is never reused anyway: see tasks/prefect_task.py)."""
    url = settings.result_storage_url
    if url and "://" in url and not url.startswith("file://"):
        return
    base = Path(url.removeprefix("file://") if url else settings.results_dir).resolve()
    for key in keys:
        record = (base / key).resolve()
        if record.parent == base:
            record.unlink(missing_ok=True)


async def delete_project_and_runs(services: Services, user_id: str, project_id: str) -> bool:
    """Cancel the project's runs, delete it, then its derived data; False if the user has no
    such project (nothing is touched then)."""
    store = await services.store()
    if await asyncio.to_thread(store.get_project, user_id, project_id) is None:
        return False
    runs = await project_runs(services, user_id, project_id)
    outcome = await cancel_runs(services, runs)
    if not await asyncio.to_thread(store.delete_project, user_id, project_id):
        return False  # deleted meanwhile by another request
    run_ids = [r.id for r in runs]
    await forget_runs(services, user_id, run_ids)
    await asyncio.to_thread(remove_derived_files, services.settings, user_id, project_id, run_ids)
    log.info("project %s deleted; its runs: %s", project_id, outcome)
    return True
