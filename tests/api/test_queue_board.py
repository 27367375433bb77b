"""The queue board reads the fast-changing part of the queue on every refresh and the slow part
(queue priorities, typical run time) once a minute: what it asks a real Prefect server."""

from __future__ import annotations

import asyncio
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
