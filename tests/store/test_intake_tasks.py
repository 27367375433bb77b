"""Tasks the API accepts before their flow runs exist (reelflow/api/intake.py): one per user
and idempotency key, pending until created, and the columns added to a store made before."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from reelflow.engine.errors import InputError
from reelflow.store import Store

CREATION = {"deployment": "generate-reel/cpu", "body": {"parameters": {}}}


def _accept(store: Store, user_id: str, key: str, **extra):
    return store.intake_task(user_id, str(uuid.uuid4()), run_key=key, creation=CREATION, **extra)


def test_one_task_per_user_and_key_even_when_requests_race(store, alice, bob):
    first, new = _accept(store, alice.id, "k")
    assert new and first.pending and first.run_id is None and first.creation == CREATION
    again, new_again = _accept(store, alice.id, "k")
    assert not new_again and again.id == first.id
    other, other_new = _accept(store, bob.id, "k")  # another user's key is another task
    assert other_new and other.id != first.id
    with ThreadPoolExecutor(4) as pool:
        raced = list(pool.map(lambda _: _accept(store, alice.id, "raced"), range(8)))
    assert len({task.id for task, _ in raced}) == 1 and sum(new for _, new in raced) == 1


def test_pending_until_created_then_mapped_to_the_flow_run(store, alice):
    task, _ = _accept(store, alice.id, "p")
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert [t.id for t in store.pending_tasks(accepted_before=later)] == [task.id]
    assert store.pending_tasks(accepted_before=later - timedelta(minutes=1)) == []
    run_id = str(uuid.uuid4())
    store.mark_created({task.id: run_id})
    found = store.get_task(alice.id, task.id)
    assert found.run_id == run_id and not found.pending and found.creation is None
    assert store.pending_tasks(accepted_before=later) == []
    refused, _ = _accept(store, alice.id, "refused")
    store.drop_creation(refused.id)
    assert not store.find_task(refused.id).pending
    # a run the API did not create (a batch's child) is its own flow run
    child = store.record_task(alice.id, str(uuid.uuid4()), kind="reel", parent_id=task.id)
    assert child.run_id == child.id


def test_a_task_for_another_users_project_is_refused(store, alice, bob):
    project = store.create_project(bob.id, {"title": "Bob's", "script": "Hello there."})
    with pytest.raises(InputError) as caught:
        _accept(store, alice.id, "x", project_id=project.id)
    assert caught.value.field == "project_id"


def test_a_store_made_before_intake_gets_the_new_columns(store_settings, alice, store):
    # the tasks table as it was: no flow_run_id, run_key, creation, pending
    old = [c for c in ("id", "user_id", "project_id", "parent_id", "kind", "parameters",
                       "created_at")]  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE tasks_old AS SELECT {', '.join(old)} FROM tasks"))
        conn.execute(text("DROP TABLE tasks"))
        conn.execute(text("ALTER TABLE tasks_old RENAME TO tasks"))
    store.close()
    with Store(store_settings) as upgraded:
        first, new = _accept(upgraded, alice.id, "after-upgrade")
        again, new_again = _accept(upgraded, alice.id, "after-upgrade")
        assert new and not new_again and again.id == first.id
        # the unique index is there, not just the store's own check
        with pytest.raises(IntegrityError), upgraded.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO tasks (id, user_id, kind, parameters, created_at, run_key,"
                     " pending) VALUES ('dup', :u, 'reel', '{}', :t, 'after-upgrade', false)"),
                {"u": alice.id, "t": datetime.now(UTC)},
            )  # fmt: skip
