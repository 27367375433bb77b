"""Deleting a project cancels its renders and removes what they left, and nothing of others'.

Real renders on the package's worker, a real scheduled run on the test Prefect server, the
real Redis keys and cache folders afterwards.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from reelflow.progress.events import ProgressEvent
from reelflow.progress.keys import ProgressKeys
from reelflow.progress.redis_sink import RedisProgressSink
from reelflow.tasks.caching import user_cache_root
from tests.api.helpers import follow, make_project
from tests.api.test_triggers import flow_run

API = "/api/v1"
LOW = {"quality": "low", "music_preset": "none", "effects_preset": "none"}
SCRIPT = "Delete me and everything I made."

pytestmark = pytest.mark.slow


def _render(client, user, project_id: str) -> str:
    with client.websocket_connect(f"/ws/{user.id}", headers=user.headers) as socket:
        started = client.post(
            f"{API}/video/generate-advanced/{project_id}", headers=user.headers, json=LOW
        )
        assert started.status_code == 202, started.text
        task_id = started.json()["task_id"]
        events = follow(socket, task_id, until={"completed", "failed", "crashed"})
    assert events[-1]["status"] == "completed", events[-1]
    return task_id


def _run_keys(rclient: redis.Redis, keys: ProgressKeys, task_id: str) -> list[str]:
    names = (keys.status(task_id), keys.events(task_id), keys.seen(task_id))
    return [name for name in names if rclient.exists(name)]


def _entries(root: Path) -> set[Path]:
    return {p.parent for p in root.glob("*/*/result.pickle")}


def test_delete_cancels_the_projects_runs_and_removes_its_outputs_history_and_cache(
    client, alice, bob, worker, deployed, api_settings
):
    rclient = redis.Redis.from_url(api_settings.redis_url, decode_responses=True)
    keys = ProgressKeys.from_settings(api_settings)
    mine = make_project(client, alice, script=SCRIPT)
    theirs = make_project(client, bob, script=SCRIPT)  # the same bytes: separate cache entries
    done = _render(client, alice, mine)
    bobs = _render(client, bob, theirs)
    later = (datetime.now(UTC) + timedelta(hours=6)).isoformat()
    scheduled = client.post(
        f"{API}/video/generate-advanced/{mine}",
        headers=alice.headers,
        json={**LOW, "scheduled_time": later},
    )
    assert scheduled.status_code == 202, scheduled.text
    waiting = scheduled.json()["task_id"]
    assert flow_run(deployed, waiting).state.is_scheduled()

    outputs = api_settings.output_dir
    alice_cache = user_cache_root(api_settings.cache_dir, alice.id)
    bob_cache = user_cache_root(api_settings.cache_dir, bob.id)
    assert (outputs / done).is_dir() and _entries(alice_cache) and _run_keys(rclient, keys, done)
    bob_entries = _entries(bob_cache)
    assert bob_entries

    # Another user's delete is a 404 that touches nothing.
    refused = client.delete(f"{API}/projects/{mine}", headers=bob.headers)
    assert refused.status_code == 404 and refused.json()["field"] == "project_id"
    assert flow_run(deployed, waiting).state.is_scheduled()
    assert (outputs / done).is_dir()

    deleted = client.delete(f"{API}/projects/{mine}", headers=alice.headers)
    assert deleted.status_code == 204, deleted.text
    assert flow_run(deployed, waiting).state.is_cancelled()
    assert not (outputs / done).exists()
    assert _run_keys(rclient, keys, done) == [] and _run_keys(rclient, keys, waiting) == []
    assert done not in rclient.zrange(keys.user_tasks(alice.id), 0, -1)
    assert _entries(alice_cache) == set()
    assert client.get(f"{API}/projects/{mine}", headers=alice.headers).status_code == 404
    # an event still on its way (the relay's `cancelled`, a stopping run's hook) is dropped
    late = RedisProgressSink(api_settings)
    for run_id in (done, waiting):
        late.emit(ProgressEvent(task_id=run_id, user_id=alice.id, status="cancelled",
                                progress=0, seq=99))  # fmt: skip
    late.close()
    assert _run_keys(rclient, keys, done) == [] and _run_keys(rclient, keys, waiting) == []
    assert done not in rclient.zrange(keys.user_tasks(alice.id), 0, -1)

    # Bob's project, render, history and cache are untouched.
    assert (outputs / bobs).is_dir() and _run_keys(rclient, keys, bobs)
    assert _entries(bob_cache) == bob_entries
    status = client.get(f"{API}/video/task-status/{bobs}", headers=bob.headers).json()
    assert status["status"] == "completed"
    assert client.get(f"{API}/video/{bobs}/download", headers=bob.headers).status_code == 200
    rclient.close()


def test_deleting_an_unknown_project_is_404(client, alice):
    missing = client.delete(f"{API}/projects/{uuid.uuid4().hex}", headers=alice.headers)
    assert missing.status_code == 404 and missing.json()["field"] == "project_id"
