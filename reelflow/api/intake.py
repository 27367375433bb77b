"""Intake: a trigger is answered with its task id at once; its flow run is created behind it.

Creating a flow run costs the Prefect server ~25 ms of CPU even in groups (api/creation.py):
ten clients triggering at once waited ~10 creations each, p99 0.5-0.7 s (bench/README,
Backlog). So the request only records the task in the store, with what to create (one write,
the one that also records ownership), and this module creates the run in the background, in
groups. The answer's `task_id` is the API's own id: the run carries it in its context
(`RunContext.task_id`: its progress, outputs and hooks use it) and as the tag
``reelflow-task:<id>`` (the event relay and the Prefect UI find the run by it); the store maps
it to the flow run id once the run exists (`Task.run_id`).

Nothing accepted is lost: the creation request stays in the store until the run exists, and
every API process looks for tasks left pending (by a process that died) and creates them.
The flow run's idempotency key is the task id, so a task created twice (two processes, a
retry after a timeout) is one run. A double submit is caught before that, by the store: one
task per user and idempotency key. A run Prefect refuses for good (or cannot create for
`GIVE_UP_S`) ends as a `failed` task with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import DeploymentFlowRunCreate
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.states import Scheduled, to_state_create

from reelflow.api.creation import CreatedRun, Deployment, RunCreator, RunRefused
from reelflow.api.errors import unavailable
from reelflow.api.triggers import status_of
from reelflow.deployments.doorbell import ring
from reelflow.progress.reader import get_status, record_queued
from reelflow.settings import Settings

log = logging.getLogger(__name__)

TAGS = ("reelflow", "api")
TASK_TAG = "reelflow-task:"
GIVE_UP_S = 600.0  # a run Prefect could not create for this long ends as a failed task
SWEEP_S = 15.0  # how often pending tasks of other (dead) processes are looked for
ORPHAN_AFTER_S = 10.0  # a task pending this long is no longer its own process's business
# A run's creation waits until no trigger arrived for LINGER_S, or MAX_LINGER_S at most: under
# a burst, the server's creations (~10-25 ms of CPU per run) would take the cores the answers
# need (bench/README.md, Backlog); a lone trigger's run leaves after LINGER_S.
LINGER_S = 0.1
MAX_LINGER_S = 1.0
RETRIGGER = frozenset({"failed", "crashed", "cancelled"})
MAX_RETRIGGERS = 5
_KEY_CHARS = 32
_PREFECT_DOWN = (httpx.HTTPError, OSError)


def task_tag(task_id: str) -> str:
    """The Prefect tag that names a run's task."""
    return f"{TASK_TAG}{task_id}"


def task_of_tags(tags: list[str] | set[str] | tuple[str, ...]) -> str | None:
    """The task a run's tags name, if any."""
    for tag in tags:
        if tag.startswith(TASK_TAG):
            return tag[len(TASK_TAG) :]
    return None


@dataclass(frozen=True)
class Accepted:
    """A trigger's task: new, or the one its idempotency key already named."""

    task_id: str
    new: bool
    status: str
    work_queue: str | None


class CreationFailed(Exception):
    """Prefect refused the run for good (the reason is the message)."""


@dataclass
class Intake:
    """One API process's intake: accepts triggers and creates their flow runs."""

    client: PrefectClient
    creator: RunCreator
    store: Callable[[], Awaitable[Any]]
    redis: Any
    settings: Settings
    deployments: dict[str, Deployment] = field(default_factory=dict)  # by name
    lifecycle: Any = None  # LifecycleWriter: writes `failed` for a run that cannot be created
    on_created: Callable[[list[str]], None] | None = None  # e.g. the queue board's hint
    give_up_s: float = GIVE_UP_S
    linger_s: float = LINGER_S
    max_linger_s: float = MAX_LINGER_S
    _inflight: dict[str, asyncio.Task] = field(default_factory=dict)
    _created: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    _flusher: asyncio.Task | None = None
    _lookups: dict[str, asyncio.Lock] = field(default_factory=dict)
    _last_arrival: float = 0.0

    async def deployment(self, name: str) -> Deployment:
        """The deployment `name` (remembered); 503 naming the problem when Prefect cannot say."""
        try:
            return await self._lookup(name)
        except ObjectNotFound:
            message = f"deployment {name!r} not found; run `reelflow up` or `prefect deploy --all`"
            raise unavailable("Prefect", message, retry_after_s=30) from None
        except PrefectHTTPStatusError as exc:
            status = exc.response.status_code
            raise unavailable("Prefect", f"HTTP {status} reading the deployment") from None
        except _PREFECT_DOWN as exc:
            raise unavailable("Prefect", str(exc) or type(exc).__name__) from None

    async def _lookup(self, name: str) -> Deployment:
        if name in self.deployments:
            return self.deployments[name]
        # one lookup however many triggers arrive at once (a burst on a just-started API)
        lock = self._lookups.setdefault(name, asyncio.Lock())
        async with lock:
            if name not in self.deployments:
                found = await self.client.read_deployment_by_name(name)
                self.deployments[name] = Deployment(found.id, found.work_pool_name)
        return self.deployments[name]

    async def warm(self, names: list[str]) -> None:
        """Look up the deployments triggers will name, before the first trigger needs them
        (at start; a deployment that is not there yet is looked up by the first trigger)."""
        # building the request model once is Prefect's and pydantic's first-use work
        probe = creation_request("", Deployment(uuid.uuid4(), None), "warm", {}, queue="",
                                 scheduled_time=None)  # fmt: skip
        run_body(probe)
        for name in names:
            try:
                await self._lookup(name)
            except (ObjectNotFound, PrefectHTTPStatusError, *_PREFECT_DOWN) as exc:
                log.info("deployment %s not looked up at start: %s", name, _reason(exc))

    async def accept(
        self,
        user_id: str,
        *,
        key: str,
        client_key: bool,
        deployment: str,
        parameters: dict[str, Any],
        queue: str,
        scheduled_time: datetime | None,
        kind: str,
        project_id: str | None,
        recorded: dict[str, Any],
        details: str,
    ) -> Accepted:
        """Record the task and start creating its run; or return the task `key` already names.

        A derived key whose task failed, crashed or was cancelled is chained to that task's
        id, so asking again starts a fresh task while a double submit still gets one task.
        A client's own key always returns its task, whatever became of it.
        """
        found = await self.deployment(deployment)
        store = await self.store()
        for _ in range(MAX_RETRIGGERS + 1):
            task_id = str(uuid.uuid4())
            creation = creation_request(
                deployment, found, task_id, parameters, queue=queue, scheduled_time=scheduled_time
            )
            task, new = await asyncio.to_thread(
                store.intake_task,
                user_id,
                task_id,
                run_key=key,
                creation=creation,
                project_id=project_id,
                parameters={**recorded, "work_queue": queue},
                kind=kind,
            )
            if new:
                self.submit(task_id, creation)
                await record_queued(self.redis, self.settings, task_id, user_id, details=details)
                return Accepted(task_id, True, "queued", queue)
            status = await self._status(task)
            earlier = Accepted(
                task.id, False, status, (task.parameters or {}).get("work_queue") or queue
            )
            if client_key or status not in RETRIGGER:
                return earlier
            key = hashlib.sha256(f"{key}:{task.id}".encode()).hexdigest()[:_KEY_CHARS]
        return earlier

    async def _status(self, task) -> str:
        current = await get_status(self.redis, self.settings, task.id)
        if current is not None:
            return current["status"]
        if task.run_id is None:
            return "queued"
        try:  # Redis lost it: Prefect's state says how the run ended
            return status_of(await self.client.read_flow_run(uuid.UUID(task.run_id)))
        except ObjectNotFound:
            return "failed"
        except (PrefectHTTPStatusError, *_PREFECT_DOWN) as exc:
            raise unavailable("Prefect", str(exc) or type(exc).__name__) from None

    def submit(self, task_id: str, creation: dict[str, Any]) -> None:
        """Create the task's flow run in the background (once per process)."""
        if task_id in self._inflight:
            return
        self._last_arrival = time.monotonic()
        job = asyncio.create_task(self._create(task_id, creation), name=f"create-run-{task_id}")
        self._inflight[task_id] = job
        job.add_done_callback(lambda _: self._inflight.pop(task_id, None))

    async def created(self, task_id: str, timeout_s: float) -> bool:
        """Wait (at most `timeout_s`) for this process's creation of `task_id`, if it has one;
        True when there was nothing to wait for or it finished."""
        job = self._inflight.get(task_id)
        if job is None:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(job), timeout_s)
        if self._flusher is not None and not self._flusher.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._flusher), timeout_s)
        return job.done()

    async def _linger(self) -> None:
        """Wait while triggers keep arriving (at most `max_linger_s`): answering them comes
        first, and the runs of a burst then leave in few, large groups."""
        arrived = time.monotonic()
        while True:
            now = time.monotonic()
            until = min(self._last_arrival + self.linger_s, arrived + self.max_linger_s)
            if now >= until:
                return
            await asyncio.sleep(until - now)

    async def _create(self, task_id: str, creation: dict[str, Any]) -> None:
        await self._linger()
        give_up = time.monotonic() + self.give_up_s
        delay = 0.5
        while True:
            try:
                run = await self._create_once(creation)
            except CreationFailed as exc:
                await self._fail(task_id, str(exc))
                return
            except (ObjectNotFound, PrefectHTTPStatusError, *_PREFECT_DOWN) as exc:
                reason = _reason(exc)
                if time.monotonic() > give_up:
                    await self._fail(task_id, reason)
                    return
                log.warning("run of task %s not created yet (%s); again in %.1f s",
                            task_id, reason, delay)  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            self._created[task_id] = (str(run.id), creation)
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.create_task(self._flush(), name="record-created-runs")
            return

    async def _create_once(self, creation: dict[str, Any]) -> CreatedRun:
        name = creation["deployment"]
        deployment = Deployment(uuid.UUID(creation["deployment_id"]), creation.get("work_pool"))
        try:
            return await self.creator.create(deployment, run_body(creation))
        except PrefectHTTPStatusError as exc:
            status = exc.response.status_code
            if status == 404:  # deployed again since: a new id under the same name
                self.deployments.pop(name, None)
                found = await self._lookup(name)
                creation.update(deployment_id=str(found.id), work_pool=found.work_pool_name)
                return await self.creator.create(found, run_body(creation))
            if 400 <= status < 500 and status not in (408, 409, 429):
                raise CreationFailed(f"Prefect refused the run (HTTP {status})") from None
            raise
        except RunRefused as exc:
            raise CreationFailed(f"Prefect refused the run: {exc}") from None

    async def _flush(self) -> None:
        """Record the created runs in the store (one write per group) and ring their pools."""
        while self._created:
            batch = dict(self._created)
            try:
                store = await self.store()
                await asyncio.to_thread(
                    store.mark_created, {t: run_id for t, (run_id, _) in batch.items()}
                )
            except Exception as exc:  # the database is away: keep them and try again
                log.warning("could not record %d created runs: %s", len(batch), exc)
                await asyncio.sleep(1.0)
                continue
            for task_id in batch:
                self._created.pop(task_id, None)
            if self.on_created is not None:
                self.on_created(list(batch))
            rings = {(c.get("work_pool"), c.get("scheduled_time")) for _, c in batch.values()}
            for pool, when in rings:
                at = datetime.fromisoformat(when) if when else None
                await ring(self.redis, self.settings, pool, at=at)

    async def _fail(self, task_id: str, reason: str) -> None:
        log.error("the run of task %s could not be created: %s", task_id, reason)
        if self.lifecycle is not None:
            with contextlib.suppress(Exception):
                await self.lifecycle.write(
                    task_id,
                    "failed",
                    event_id=f"intake-{task_id}",
                    message=f"the run could not be created: {reason}",
                )
        with contextlib.suppress(Exception):
            store = await self.store()
            await asyncio.to_thread(store.drop_creation, task_id)

    async def sweep(self, *, older_than_s: float = ORPHAN_AFTER_S) -> int:
        """Create the runs of tasks left pending (by a process that stopped); how many."""
        store = await self.store()
        before = datetime.now(UTC) - timedelta(seconds=older_than_s)
        tasks = await asyncio.to_thread(store.pending_tasks, accepted_before=before)
        started = 0
        for task in tasks:
            if task.id not in self._inflight and task.id not in self._created and task.creation:
                self.submit(task.id, dict(task.creation))
                started += 1
        if started:
            log.info("creating the runs of %d tasks left pending", started)
        return started

    async def run_sweeper(self, interval_s: float = SWEEP_S) -> None:
        """`sweep` now (tasks a stopped process left) and every `interval_s`, forever."""
        older_than = 0.0  # at start, nothing pending is this process's own
        while True:
            try:
                await self.sweep(older_than_s=older_than)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store is away: look again next time
                log.warning("pending tasks not checked: %s", exc)
            older_than = ORPHAN_AFTER_S
            await asyncio.sleep(interval_s)

    async def close(self, grace_s: float = 5.0) -> None:
        """Let creations under way finish for up to `grace_s`; the rest stay pending in the
        store (the next process creates them)."""
        jobs = [*self._inflight.values()]
        if self._flusher is not None:
            jobs.append(self._flusher)
        if jobs:
            await asyncio.wait(jobs, timeout=grace_s)
        for job in jobs:
            job.cancel()


def creation_request(
    name: str,
    deployment: Deployment,
    task_id: str,
    parameters: dict[str, Any],
    *,
    queue: str,
    scheduled_time: datetime | None,
) -> dict[str, Any]:
    """What the store keeps for a task until its run exists (plain JSON): the deployment, and
    the run's parameters (the task id in their context), queue and start time."""
    context = {**(parameters.get("context") or {}), "task_id": task_id}
    return {
        "deployment": name,
        "deployment_id": str(deployment.id),
        "work_pool": deployment.work_pool_name,
        "task_id": task_id,
        "parameters": {**parameters, "context": context},
        "work_queue": queue,
        "scheduled_time": scheduled_time.isoformat() if scheduled_time else None,
        # a run to start now is due from its trigger, not from its creation: runs of one
        # tier then start in trigger order (the server orders by scheduled time)
        "accepted_at": datetime.now(UTC).isoformat(),
    }


def run_body(creation: dict[str, Any]) -> dict[str, Any]:
    """Prefect's create-run request for a task (built when it is sent, off the request path):
    the task id is the run's idempotency key and a tag."""
    when = creation.get("scheduled_time") or creation.get("accepted_at")
    task_id = creation["task_id"]
    run = DeploymentFlowRunCreate(
        parameters=creation["parameters"],
        state=to_state_create(
            Scheduled(scheduled_time=datetime.fromisoformat(when) if when else None)
        ),
        tags=[*TAGS, task_tag(task_id)],
        idempotency_key=task_id,
        # The API validated these with the flow's own models, and the flow validates them
        # again when it starts: the server's JSON-schema check would be a third time.
        enforce_parameter_schema=False,
    )
    if creation.get("job_variables") is not None:
        run.job_variables = creation["job_variables"]
    run.work_queue_name = creation["work_queue"]  # set apart, as Prefect's client does
    return run.model_dump(mode="json", exclude_unset=True)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, PrefectHTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, ObjectNotFound):
        return "the deployment is not there (deploy it again)"
    return str(exc) or type(exc).__name__
