"""Creating flow runs in groups: the triggers that arrive while a creation is under way are
created together, in one request to Prefect.

Prefect's server spends most of a single creation on the request around it (routing, reading
the deployment, building the parameter hydration context, one transaction): its
``POST /deployments/{id}/create_flow_run/bulk`` does those once for up to 100 runs. Under a
burst, every trigger that waits for a creation slot joins the next group, so the server's work
per run falls as the load rises, and on SQLite one write transaction serves the whole group
instead of one per run colliding on the database lock. A lone trigger is a group of one.

Each run keeps its own idempotency key, queue, state and parameters. The server answers with
each run's id only, an existing run's for a key it has seen: `CreatedRun` carries the state
that was asked for, and whether the run was there before is for the caller to tell (the API's
store records every run it starts) before it relies on that state. Reading every run back
cost the server as much as creating it (bench/load.py --backlog).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import DeploymentFlowRunCreate
from prefect.client.schemas.objects import StateType

MAX_GROUP = 100  # the server's own cap per request
REFUSAL_RETRY_S = (0.05, 0.2, 0.5, 1.0, 2.0, 4.0)  # ~8 s in all


@dataclass(frozen=True)
class Deployment:
    """What a trigger needs of a deployment (remembered per API process)."""

    id: UUID
    work_pool_name: str | None


@dataclass(frozen=True)
class CreatedRun:
    """A flow run a trigger created (or the one its idempotency key already named: then
    `state_type` and `work_queue_name` are what was asked for, not what the run has now)."""

    id: UUID
    state_type: StateType | None
    work_queue_name: str | None
    work_pool_name: str | None


class RunRefused(Exception):
    """Prefect did not create this run (its reason is the message)."""


@dataclass
class _Waiting:
    body: dict[str, Any]
    done: asyncio.Future[CreatedRun]
    taken: bool = False  # a leader has it in a group (sent, or being sent)


@dataclass
class RunCreator:
    """Creates one API process's flow runs, `slots` requests to Prefect at once."""

    client: PrefectClient
    slots: int = 1
    max_group: int = MAX_GROUP
    _waiting: dict[UUID, list[_Waiting]] = field(default_factory=dict)
    _slots: asyncio.Semaphore | None = None

    async def create(
        self, deployment: Deployment, run: DeploymentFlowRunCreate | dict[str, Any]
    ) -> CreatedRun:
        """Create `run` (the model, or its JSON as `model_dump(mode="json",
        exclude_unset=True)` gives it) from the deployment, with the others waiting now.

        Raises what the request raised (``PrefectHTTPStatusError``, ``httpx.HTTPError``) or
        `RunRefused` when the server refused this run alone.
        """
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.slots)
        if isinstance(run, DeploymentFlowRunCreate):
            run = run.model_dump(mode="json", exclude_unset=True)
        me = _Waiting(
            run,
            asyncio.get_running_loop().create_future(),
        )
        # read, so a run whose caller left does not log "exception never retrieved"
        me.done.add_done_callback(lambda f: f.cancelled() or f.exception())
        queue = self._waiting.setdefault(deployment.id, [])
        queue.append(me)
        try:
            async with self._slots:
                # With several slots a group can still be in flight when its members get a
                # slot: they wait for its answer instead of sending an empty group.
                if not me.taken:  # nobody took it along: this trigger leads a group
                    group = queue[: self.max_group]
                    del queue[: len(group)]
                    for waiting in group:
                        waiting.taken = True
                    # the others' runs must not depend on this caller staying
                    await asyncio.shield(self._send(deployment, group))
        except asyncio.CancelledError:
            # A caller that left before its run was sent does not get one created.
            with contextlib.suppress(ValueError):
                queue.remove(me)
            raise
        return await me.done

    async def _send(self, deployment: Deployment, group: list[_Waiting]) -> None:
        for delay in (*REFUSAL_RETRY_S, None):
            refused = await self._send_once(deployment, group)
            if not refused:
                return
            if delay is None:
                for waiting, reason in refused:
                    waiting.done.set_exception(RunRefused(reason))
                return
            # The server checks each run of a group on its own: on SQLite a run meets the
            # database lock held by the server's other writers ("database is locked") where a
            # single creation would have been answered 503 and retried by Prefect's client.
            # Asking again is safe: a run that did get created comes back under its key.
            await asyncio.sleep(delay)
            group = [waiting for waiting, _ in refused]

    async def _send_once(
        self, deployment: Deployment, group: list[_Waiting]
    ) -> list[tuple[_Waiting, str]]:
        """One request for `group`; resolves the created runs, returns the refused ones."""
        try:
            response = await self.client.request(
                "POST",
                "/deployments/{id}/create_flow_run/bulk",  # type: ignore[arg-type]
                path_params={"id": deployment.id},
                json=[w.body for w in group],
            )
            results = response.json()["results"]
        except Exception as exc:  # Prefect's client already retried what it retries
            for waiting in group:
                waiting.done.set_exception(exc)
            return []
        refused = []
        for n, waiting in enumerate(group):
            result = results[n] if n < len(results) else {}
            if result.get("flow_run_id"):
                run = CreatedRun(
                    id=UUID(str(result["flow_run_id"])),
                    state_type=StateType(waiting.body["state"]["type"]),
                    work_queue_name=waiting.body.get("work_queue_name"),
                    work_pool_name=deployment.work_pool_name,
                )
                waiting.done.set_result(run)
            else:
                refused.append((waiting, result.get("error") or "the server returned no run"))
        return refused
