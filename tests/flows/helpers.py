"""Read what a flow run left behind: its task runs on the Prefect server, its Redis events."""

from __future__ import annotations

import json
import time

import redis
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterType,
    FlowRunFilter,
    FlowRunFilterId,
)


def task_states(flow_run_id: str, *, field: str = "state") -> dict[str, object]:
    """Task name (without Prefect's run suffix) -> its state name, or another attribute.

    Prefect 3 records task runs from events, a moment after they happen: wait until the
    flow run's task runs are all in a final state and their number stops changing.
    """
    runs: list = []
    deadline = time.monotonic() + 20
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            latest = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            settled = all(r.state is not None and r.state.is_final() for r in latest)
            if settled and latest and len(latest) == len(runs):
                break
            runs = latest
            time.sleep(0.5)
        runs = latest
    out: dict[str, object] = {}
    for run in runs:
        name = run.name.rsplit("-", 1)[0]
        out[name] = run.state.name if field == "state" else getattr(run, field)
    return out


def progress_artifacts(flow_run_id: str) -> list[float]:
    """The values of the flow run's progress artifacts (the Prefect UI's bar)."""
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
                type=ArtifactFilterType(any_=["progress"]),
            )
        )
    return [float(a.data) for a in found]


def flow_events(client: redis.Redis, prefix: str, task_id: str) -> list[dict]:
    """The run's events from its replay stream, in stream order."""
    entries = client.xrange(f"{prefix}:events:{task_id}")
    return [json.loads(fields["event"]) for _, fields in entries]
