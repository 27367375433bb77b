"""The caller's own numbers: reels per status and time per stage, from recorded runs."""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter, defaultdict
from typing import Any

from fastapi import APIRouter, Query
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from reelflow.api.deps import CurrentUser, ServicesDep, StoreDep
from reelflow.api.safejson import SafeJsonRoute

router = APIRouter(route_class=SafeJsonRoute, tags=["analytics"])


@router.get("/analytics")
async def analytics(
    user: CurrentUser,
    store: StoreDep,
    services: ServicesDep,
    limit: int = Query(200, ge=1, le=1000, description="How many recent reels to look at."),
) -> dict[str, Any]:
    """Reels per Prefect state, and per stage the median and 95th percentile of the seconds it
    took when it really ran (cache hits counted apart), over the user's last `limit` reels."""
    tasks = await asyncio.to_thread(store.list_tasks, user.id, limit=limit)
    reel_ids = [t.run_id for t in tasks if t.kind == "reel" and t.run_id]
    client = services.require_prefect()
    runs = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=reel_ids)), limit=len(reel_ids)
    ) if reel_ids else []  # fmt: skip
    task_runs = await client.read_task_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=reel_ids))
    ) if reel_ids else []  # fmt: skip
    per_status = Counter((run.state.name if run.state else "Unknown") for run in runs)
    ran: dict[str, list[float]] = defaultdict(list)
    hits: Counter[str] = Counter()
    for task_run in task_runs:
        stage = task_run.name.rsplit("-", 1)[0]
        if task_run.state is not None and task_run.state.name == "Cached":
            hits[stage] += 1
        elif task_run.state is not None and task_run.state.is_completed():
            ran[stage].append(task_run.total_run_time.total_seconds())
    totals = [r.total_run_time.total_seconds() for r in runs if r.state and r.state.is_completed()]
    return {
        "reels": len(reel_ids),
        "by_status": dict(per_status),
        "reel_seconds": _summary(totals),
        "stages": {
            stage: {**_summary(ran.get(stage, [])), "cache_hits": hits.get(stage, 0)}
            for stage in sorted(set(ran) | set(hits))
        },
    }


def _summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"runs": 0, "median_s": None, "p95_s": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"runs": len(values), "median_s": round(statistics.median(values), 3),
            "p95_s": round(p95, 3)}  # fmt: skip
