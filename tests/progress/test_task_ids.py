"""A run reports as the API's task (its context's `task_id`), or as itself without one: the
hooks that run in another process find the same task from the run's parameters."""

from __future__ import annotations

import types
import uuid

import pytest
import redis
from pydantic import ValidationError

from reelflow.flows import hooks
from reelflow.flows.runtime import RunContext, task_id_of
from reelflow.progress.redis_sink import RedisProgressSink
from reelflow.settings import Settings


def _flow_run(context: dict | None):
    parameters = {"spec": {}, "context": context} if context is not None else {"spec": {}}
    return types.SimpleNamespace(
        id=uuid.uuid4(), name="quiet-fox", run_count=1, parameters=parameters
    )


def test_the_task_id_comes_from_the_context_else_the_run():
    task_id = str(uuid.uuid4())
    assert task_id_of(_flow_run({"user_id": "u", "task_id": task_id})) == task_id
    run = _flow_run({"user_id": "u"})
    assert task_id_of(run) == str(run.id)
    bare = _flow_run(None)
    assert task_id_of(bare) == str(bare.id)
    typed = types.SimpleNamespace(
        id=uuid.uuid4(), parameters={"context": RunContext(task_id="t-1")}
    )
    assert task_id_of(typed) == "t-1"


@pytest.mark.parametrize("bad", ["../x", "a/b", "", "x" * 65])
def test_a_task_id_cannot_name_a_path(bad):
    with pytest.raises(ValidationError):
        RunContext(task_id=bad)


def test_a_crash_hook_reports_under_the_task_id(
    psettings: Settings, rclient: redis.Redis, monkeypatch
):
    monkeypatch.setenv("REELFLOW_REDIS_URL", psettings.redis_url)
    monkeypatch.setenv("REELFLOW_REDIS_KEY_PREFIX", psettings.redis_key_prefix)
    monkeypatch.setenv("REELFLOW_DATA_DIR", str(psettings.data_dir))
    task_id = str(uuid.uuid4())
    run = _flow_run({"user_id": "u-1", "task_id": task_id})
    hooks.on_crashed(None, run, types.SimpleNamespace(message="host lost"))
    sink = RedisProgressSink(psettings)
    try:
        assert sink.status(task_id)["status"] == "crashed"
        assert sink.status(task_id)["user_id"] == "u-1"
        assert sink.status(str(run.id)) is None  # nothing under the flow run's own id
    finally:
        sink.close()
