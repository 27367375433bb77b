"""The queue board reads the fast-changing part of the queue on every refresh and the slow part
(queue priorities, typical run time) once a minute: what it asks a real Prefect server."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from prefect.client.orchestration import PrefectClient

from reelflow.api import queue_board
from reelflow.api.queue_board import QueueBoard, QueueSpot, QueueView
from reelflow.deployments.pools import ensure_pools


def test_a_refresh_reads_runs_and_limits_and_the_slow_part_once_a_minute(prefect_server):
    requests: Counter[str] = Counter()

    async def count(request) -> None:
        requests[f"{request.method} {request.url.path.split('/api', 1)[1]}"] += 1

    async def scenario() -> list:
        hooks = {"event_hooks": {"request": [count]}}
        async with PrefectClient(api=prefect_server, httpx_settings=hooks) as client:
            await ensure_pools(client)
            requests.clear()
            board = QueueBoard(client, refresh_s=0.0)
            views = [await board.view()]
            first = Counter(requests)
            requests.clear()
            views.append(await board.view())
            second = Counter(requests)
            requests.clear()
            board._slow_at -= queue_board.SLOW_REFRESH_S  # a minute later
            views.append(await board.view())
            return [first, second, Counter(requests), views]

    first, second, later, views = asyncio.run(scenario())
    queues = [k for k in first if k.endswith("/queues/filter")]
    assert queues and all(second[k] == 0 for k in queues)  # priorities: not read again
    assert first["POST /flow_runs/filter"] == 2  # active runs + the finished ones' run times
    assert second["POST /flow_runs/filter"] == 1  # active runs only
    assert later["POST /flow_runs/filter"] == 2 and all(later[k] for k in queues)
    assert views[1].priorities == views[0].priorities and views[0].priorities
    assert views[1].typical_run_s == views[0].typical_run_s


def test_a_long_queue_is_read_less_often():
    now = datetime.now(UTC)

    def view(waiting: int) -> QueueView:
        spots = {
            str(i): QueueSpot(str(i), "cpu", "standard", i + 1, waiting, now, None, "u")
            for i in range(waiting)
        }
        return QueueView(taken_at=now, spots=spots)

    board = QueueBoard(None, refresh_s=5.0)
    assert board._interval(None) == 5.0
    assert board._interval(view(10)) == 5.0
    assert board._interval(view(100)) == pytest.approx(15.0)


def test_runs_that_leave_the_queue_move_the_rest_up_and_use_the_free_slots_first():
    now = datetime.now(UTC)
    ids = [f"r{i}" for i in range(5)]
    spots = {
        t: QueueSpot(t, "cpu", "standard", i + 1, 5, now, None, "u") for i, t in enumerate(ids)
    }
    view = QueueView(
        taken_at=now, spots=spots, slots={"cpu": 2}, typical_run_s=60.0,
        order={"cpu": list(ids)}, free={"cpu": 1},
    )  # fmt: skip
    after = queue_board.without(view, {"r0", "r2"})
    assert sorted(after.spots) == ["r1", "r3", "r4"]
    assert [after.spots[t].position for t in ("r1", "r3", "r4")] == [1, 2, 3]
    assert {s.waiting for s in after.spots.values()} == {3}
    assert after.free == {"cpu": 0}  # the free slot went to a run that left
    wait = [(after.spots[t].expected_start - now).total_seconds() for t in ("r1", "r3", "r4")]
    assert wait[0] == pytest.approx(60 + queue_board._PICKUP_S, abs=2)  # one wave ahead
    assert wait[2] == pytest.approx(120 + queue_board._PICKUP_S, abs=2)
    assert view.spots["r0"].position == 1  # the snapshot itself is not changed


def test_a_waiting_backlog_is_followed_from_redis_and_prefect_is_read_only_for_news(
    prefect_server, settings, prefix, rclient
):
    """What keeps 100 waiting reels cheap: the board re-reads Prefect for a reel it has not
    seen (once), at a scheduled reel's start or after FULL_READ_S, never for the ones it holds."""
    from prefect.states import Scheduled

    from reelflow.progress.keys import ProgressKeys
    from reelflow.progress.reader import statuses_of

    settings = settings.model_copy(update={"redis_key_prefix": prefix})
    keys = ProgressKeys.from_settings(settings)

    def mark(task_id: str, status: str) -> None:
        rclient.hset(keys.status(task_id), "status", status)

    async def scenario() -> None:
        import redis.asyncio as aioredis

        r = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
        async with PrefectClient(api=prefect_server) as client:
            await ensure_pools(client)
            flow_id = await client.create_flow_from_name("queue-board-test")
            # the gpu pool: no test starts a worker on it, so these runs keep waiting
            deployment = await client.create_deployment(
                flow_id, "board", work_pool_name="gpu", entrypoint="board.py:flow"
            )
            runs = []

            async def new_run() -> str:
                run = await client.create_flow_run_from_deployment(deployment, state=Scheduled())
                runs.append(run.id)
                mark(str(run.id), "queued")
                return str(run.id)

            try:
                ids = [await new_run() for _ in range(4)]
                board = QueueBoard(
                    client, refresh_s=0.0, statuses=lambda t: statuses_of(r, settings, t)
                )
                view = await board.view(ids)
                assert board.reads == 1
                first = view.spots[ids[0]].position  # other tests' runs may wait ahead
                assert [view.spots[t].position for t in ids] == [first + i for i in range(4)]
                waiting = view.spots[ids[0]].waiting

                mark(ids[0], "running")  # a worker took it: its hook said so
                mark(ids[2], "cancelled")
                view = await board.view(ids[1:])
                assert board.reads == 1  # followed from Redis, not read
                assert ids[0] not in view.spots and ids[2] not in view.spots
                assert [view.spots[t].position for t in (ids[1], ids[3])] == [first, first + 1]
                assert view.spots[ids[3]].waiting == waiting - 2

                fresh = await new_run()  # e.g. another API process's trigger
                view = await board.view([fresh])
                assert board.reads == 2 and fresh in view.spots

                stranger = str(uuid.uuid4())  # queued in Redis but no reel run in Prefect
                await board.view([stranger])
                await board.view([stranger])
                assert board.reads == 3  # asked about once, not on every view

                board._read_at -= queue_board.FULL_READ_S  # a minute later
                await board.view()
                assert board.reads == 4
            finally:
                for run_id in runs:
                    await client.delete_flow_run(run_id)
                await client.delete_deployment(deployment)
                await r.aclose()

    asyncio.run(scenario())
