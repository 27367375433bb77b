"""Read what a flow run left behind: its task runs on the Prefect server, its Redis events."""

from __future__ import annotations

import json
import time

import httpx
import redis
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterType,
    FlowRunFilter,
    FlowRunFilterId,
)


def run_ids_of(
    task_ids: list[str], *, api_url: str | None = None, timeout_s: float = 30
) -> dict[str, str]:
    """Task id -> flow run id. The API answers before it creates a task's run and tags the
    run with the task (api/intake.py): wait for the tagged run. A task id the API did not
    create a run for (a batch's child) is its run's own id."""
    from prefect.settings import PREFECT_API_URL

    from reelflow.api.intake import task_of_tags, task_tag
    from reelflow.api.runs import is_run_id

    url = (api_url or PREFECT_API_URL.value()).rstrip("/")
    found: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=10) as client:
        while True:
            missing = [t for t in task_ids if t not in found]
            for start in range(0, len(missing), 200):
                chunk = missing[start : start + 200]
                tagged = client.post(
                    f"{url}/flow_runs/filter",
                    json={"flow_runs": {"tags": {"any_": [task_tag(t) for t in chunk]}},
                          "limit": 200},
                )  # fmt: skip
                tagged.raise_for_status()
                for run in tagged.json():
                    task = task_of_tags(run["tags"])
                    if task is not None:
                        found[task] = run["id"]
                ids = [t for t in chunk if t not in found and is_run_id(t)]
                if ids:
                    own = client.post(
                        f"{url}/flow_runs/filter", json={"flow_runs": {"id": {"any_": ids}}}
                    )
                    own.raise_for_status()
                    found.update({run["id"]: run["id"] for run in own.json()})
            missing = [t for t in task_ids if t not in found]
            if not missing:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no flow run for tasks {missing} after {timeout_s} s")
            time.sleep(0.2)


def run_id_of(task_id: str, *, api_url: str | None = None, timeout_s: float = 30) -> str:
    """The flow run id of one task (see `run_ids_of`)."""
    return run_ids_of([task_id], api_url=api_url, timeout_s=timeout_s)[task_id]


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
