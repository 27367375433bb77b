"""Where each waiting reel stands: its position in its pool's queue and an expected start.

One snapshot per API process, read from Prefect only when someone asks (a status request, a
WebSocket viewer with a waiting reel): the pools' limits and queue priorities, every
`Scheduled`/`Pending`/`Running` reel run of the reel pools, and the run times of the last
finished reels. Positions follow the order the server hands runs to workers
(reelflow/deployments/queues.py): queue priority, then scheduled start time.

A waiting backlog costs the Prefect server almost nothing: between two reads the snapshot is
kept current from the progress statuses in Redis (a run that started, finished or was
cancelled leaves its queue and the ones behind it move up), so Prefect is read again only when
someone asks about a reel the snapshot does not hold yet (at most every
`queue_status_refresh_s`), when a scheduled reel comes due, or at the latest every
`FULL_READ_S` (runs created by other API processes, changed limits and priorities).

The expected start is an estimate: free slots start at once; otherwise every `slots` reels
ahead cost one typical run time (the median of the last finished reels).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    WorkPoolFilter,
    WorkPoolFilterName,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort

from reelflow.deployments.stack import REEL_POOLS
from reelflow.flows.runtime import task_id_of

log = logging.getLogger(__name__)

PAGE = 200  # the server's page cap
MAX_RUNS = 5_000
DEFAULT_RUN_S = 60.0
_PICKUP_S = 3.0  # a free slot is taken at once (doorbell), then the flow-run process starts
SLOW_REFRESH_S = 60.0
FULL_READ_S = 60.0
READ_S_PER_WAITING_RUN = 0.6  # a backlog of more than 100 is read even less often
WAITING = "queued"
_ACTIVE = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING]


@dataclass(frozen=True)
class QueueSpot:
    """One waiting reel: where it stands and when it should start."""

    task_id: str
    pool: str
    work_queue: str | None
    position: int | None  # 1 = next to start; None while its scheduled time is ahead
    waiting: int  # reels waiting in the pool now (eligible to start)
    expected_start: datetime
    scheduled_time: datetime | None
    user_id: str | None


@dataclass
class QueueView:
    """A snapshot of the reel pools."""

    taken_at: datetime
    spots: dict[str, QueueSpot] = field(default_factory=dict)
    running: dict[str, int] = field(default_factory=dict)
    slots: dict[str, int | None] = field(default_factory=dict)
    typical_run_s: float = DEFAULT_RUN_S
    priorities: dict[str, int] = field(default_factory=dict)  # "pool/queue" -> priority
    order: dict[str, list[str]] = field(default_factory=dict)  # pool -> waiting ids, first first
    free: dict[str, int] = field(default_factory=dict)  # pool -> free slots when read

    def for_user(self, user_id: str) -> list[QueueSpot]:
        return [s for s in self.spots.values() if s.user_id == user_id]


Statuses = Callable[[list[str]], Awaitable[dict[str, str | None]]]


class QueueBoard:
    """The snapshot shared by the requests and viewers of one API process.

    `statuses` reads the progress status of runs (Redis); with it the snapshot follows runs
    that leave the queue without reading Prefect. The queues' priorities and the typical run
    time change slowly and are read every `SLOW_REFRESH_S`.
    """

    def __init__(
        self, client: PrefectClient, *, refresh_s: float, statuses: Statuses | None = None
    ) -> None:
        self.client = client
        self.refresh_s = refresh_s
        self.statuses = statuses
        self._view: QueueView | None = None
        self._read_at = 0.0
        self._updated_at = 0.0
        self._absent: set[str] = set()  # asked for, and not waiting at the last read
        self._slow: tuple[dict[str, int], float] | None = None
        self._slow_at = 0.0
        self._lock = asyncio.Lock()
        self.reads = 0  # full reads from Prefect (for the benchmark and tests)

    async def view(self, wanted: Collection[str] = ()) -> QueueView:
        """The current snapshot; `wanted` names the waiting runs the caller asks about."""
        async with self._lock:
            now = time.monotonic()
            view = self._view
            age = now - self._read_at
            unknown = [t for t in wanted if view is None or t not in view.spots]
            if (
                view is None
                or age >= self._interval(view)
                or (age >= self.refresh_s and any(t not in self._absent for t in unknown))
                or _due(view)
            ):
                await self._read(now)
                self._absent |= {t for t in wanted if t not in self._view.spots}
            elif now - self._updated_at >= self.refresh_s:
                self._view = await self._follow(view)
                self._updated_at = now
            return self._view

    async def _read(self, now: float) -> None:
        if self._slow is not None and now - self._slow_at >= SLOW_REFRESH_S:
            self._slow = None
        self._view = await read_view(self.client, slow=self._slow)
        self.reads += 1
        if self._slow is None:
            self._slow = (self._view.priorities, self._view.typical_run_s)
            self._slow_at = now
        if now - self._read_at >= FULL_READ_S:
            self._absent = set()  # a run another API process created shows up by now
        self._read_at = self._updated_at = now

    async def _follow(self, view: QueueView) -> QueueView:
        """`view` without the runs whose progress says they left the queue."""
        try:
            statuses = await self.statuses(list(view.spots))
        except Exception as exc:  # Redis away: positions as last read until the next read
            log.debug("progress statuses unavailable: %s", exc)
            return view
        left = {t for t, status in statuses.items() if status is not None and status != WAITING}
        return without(view, left) if left else view

    def _interval(self, view: QueueView | None) -> float:
        # Without statuses to follow, the snapshot is read every `refresh_s`; with them, a
        # long queue (1-2 ms of server time per run, parameters included) only when needed.
        waiting = len(view.spots) if view is not None else 0
        if self.statuses is None:
            return max(self.refresh_s, waiting * 0.15)
        return max(self.refresh_s, FULL_READ_S, waiting * READ_S_PER_WAITING_RUN)

    def created(self, task_ids: list[str]) -> None:
        """These tasks' runs were just created: asking about them may read Prefect again."""
        self._absent.difference_update(task_ids)

    async def typical_run_s(self) -> float:
        """Median run time of the last finished reels (for Retry-After); never raises."""
        try:
            return (await self.view()).typical_run_s
        except Exception as exc:  # Prefect away: a plain default will do for a hint
            log.debug("queue snapshot unavailable: %s", exc)
            return DEFAULT_RUN_S


def _due(view: QueueView) -> bool:
    """A reel scheduled for later whose time has come: it joins its queue now."""
    soon = datetime.now(UTC) + timedelta(seconds=_PICKUP_S)
    return any(s.position is None and s.expected_start <= soon for s in view.spots.values())


def without(view: QueueView, left: set[str]) -> QueueView:
    """`view` with the runs in `left` gone from their queues; the rest move up.

    A run that left took a slot (or finished and freed one): the free slots seen at the read
    are used up first, so the expected starts of the rest never get earlier than a read gives.
    """
    now = datetime.now(UTC)
    spots = {t: s for t, s in view.spots.items() if t not in left}
    order: dict[str, list[str]] = {}
    free: dict[str, int] = {}
    for pool, ids in view.order.items():
        gone = sum(1 for t in ids if t in left)
        kept = [t for t in ids if t not in left]
        order[pool], free[pool] = kept, max(0, view.free.get(pool, 0) - gone)
        slots = view.slots.get(pool) or 1
        for index, task_id in enumerate(kept, start=1):
            spots[task_id] = dataclasses.replace(
                spots[task_id],
                position=index,
                waiting=len(kept),
                expected_start=_expected(now, index, free[pool], slots, view.typical_run_s),
            )
    for task_id, spot in spots.items():
        if spot.position is None and spot.pool in order:
            spots[task_id] = dataclasses.replace(spot, waiting=len(order[spot.pool]))
    return dataclasses.replace(view, spots=spots, order=order, free=free)


def _expected(now: datetime, index: int, free: int, slots: int, run_s: float) -> datetime:
    waves = 0 if index <= free else math.ceil((index - free) / slots)
    return now + timedelta(seconds=_PICKUP_S + waves * run_s)


async def read_view(
    client: PrefectClient, *, slow: tuple[dict[str, int], float] | None = None
) -> QueueView:
    """Read the reel pools' limits, queues and runs from Prefect and place every waiting run.

    `slow` (queue priorities, typical run time) from an earlier view skips reading those again.
    """
    now = datetime.now(UTC)
    view = QueueView(taken_at=now)
    priorities: dict[str, int] = dict(slow[0]) if slow is not None else {}
    for pool in REEL_POOLS:
        try:
            view.slots[pool] = (await client.read_work_pool(pool)).concurrency_limit
            if slow is None:
                for queue in await client.read_work_queues(work_pool_name=pool):
                    priorities[f"{pool}/{queue.name}"] = queue.priority
        except Exception:  # a pool that does not exist (no GPU pool deployed): skip it
            view.slots.pop(pool, None)
    view.priorities = priorities
    runs = await _active_runs(client, [p for p in REEL_POOLS if p in view.slots])
    view.typical_run_s = slow[1] if slow is not None else await _typical_run_s(client)
    waiting: dict[str, list[tuple[int, datetime, Any]]] = {pool: [] for pool in view.slots}
    future: list[Any] = []
    for run in runs:
        pool = run.work_pool_name
        if pool not in view.slots or run.state is None:
            continue
        if run.state.type in (StateType.RUNNING, StateType.PENDING):
            view.running[pool] = view.running.get(pool, 0) + 1
            continue
        start = run.next_scheduled_start_time or run.expected_start_time or now
        if start > now + timedelta(seconds=_PICKUP_S):
            future.append(run)
            continue
        rank = priorities.get(f"{pool}/{run.work_queue_name}", 10_000)
        waiting[pool].append((rank, start, run))
    for pool, entries in waiting.items():
        entries.sort(key=lambda e: (e[0], e[1]))
        slots = view.slots.get(pool) or 1
        free = max(0, slots - view.running.get(pool, 0))
        view.order[pool] = [task_id_of(run) for _, _, run in entries]
        view.free[pool] = free
        for index, (_, _start, run) in enumerate(entries, start=1):
            expected = _expected(now, index, free, slots, view.typical_run_s)
            view.spots[task_id_of(run)] = QueueSpot(
                task_id=task_id_of(run),
                pool=pool,
                work_queue=run.work_queue_name,
                position=index,
                waiting=len(entries),
                expected_start=expected,
                scheduled_time=None,
                user_id=_user_of(run),
            )
    for run in future:
        start = run.next_scheduled_start_time or run.expected_start_time
        view.spots[task_id_of(run)] = QueueSpot(
            task_id=task_id_of(run),
            pool=run.work_pool_name,
            work_queue=run.work_queue_name,
            position=None,
            waiting=len(waiting.get(run.work_pool_name, [])),
            expected_start=start,
            scheduled_time=start,
            user_id=_user_of(run),
        )
    return view


async def _active_runs(client: PrefectClient, pools: list[str]) -> list[Any]:
    if not pools:
        return []
    runs: list[Any] = []
    while len(runs) < MAX_RUNS:
        page = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=_ACTIVE))
            ),
            work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=pools)),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=PAGE,
            offset=len(runs),
        )
        runs += page
        if len(page) < PAGE:
            break
    return runs


async def _typical_run_s(client: PrefectClient) -> float:
    finished = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED]))
        ),
        work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=list(REEL_POOLS))),
        sort=FlowRunSort.END_TIME_DESC,
        limit=20,
    )
    times = [r.total_run_time.total_seconds() for r in finished if r.total_run_time]
    times = [t for t in times if t > 0]
    return statistics.median(times) if times else DEFAULT_RUN_S


def _user_of(run: Any) -> str | None:
    context = (run.parameters or {}).get("context") or {}
    return context.get("user_id") if isinstance(context, dict) else None
