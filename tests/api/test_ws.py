"""The progress WebSocket: auth, snapshot, live relay, replay, gaps, keep-alive."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

import pytest
import redis
from fastapi.testclient import TestClient

from reelflow.api.app import create_app
from reelflow.progress import ProgressEvent, ProgressKeys, RedisProgressSink
from tests.api.helpers import receive_json


@pytest.fixture
def sink(api_settings):
    opened = RedisProgressSink(api_settings)
    yield opened
    opened.close()


def event(task_id: str, user_id: str, seq: int, status: str = "running", **fields):
    return ProgressEvent(
        task_id=task_id,
        user_id=user_id,
        status=status,
        stage="voice",
        progress=min(100.0, 10.0 * seq),
        seq=seq,
        **fields,
    )


def closed_with(socket) -> int | None:
    message = socket.receive()
    return message.get("code") if message["type"] == "websocket.close" else None


def test_token_by_query_header_or_first_message(client, alice):
    for url, headers, first in (
        (f"/ws/{alice.id}?token={alice.token}", {}, None),
        (f"/ws/{alice.id}", alice.headers, None),
        (f"/ws/{alice.id}", {}, json.dumps({"token": alice.token})),
        (f"/ws/{alice.id}", {}, alice.token),
    ):
        with client.websocket_connect(url, headers=headers) as socket:
            if first is not None:
                socket.send_text(first)
            socket.send_text("ping")
            assert socket.receive_text() == "pong"


def test_bad_tokens_and_other_users_are_refused(client, alice, bob):
    with client.websocket_connect(f"/ws/{alice.id}?token=rf_wrong") as socket:
        assert closed_with(socket) == 4401
    with client.websocket_connect(f"/ws/{alice.id}") as socket:
        socket.send_text(json.dumps({"token": "nope"}))
        assert closed_with(socket) == 4401
    with client.websocket_connect(f"/ws/{alice.id}?token={bob.token}") as socket:
        assert closed_with(socket) == 4404


def test_snapshot_then_live_events(client, alice, sink):
    task_id = str(uuid.uuid4())
    for seq in (1, 2):
        sink.emit(event(task_id, alice.id, seq))
    with client.websocket_connect(f"/ws/{alice.id}?token={alice.token}") as socket:
        snapshot = receive_json(socket)
        assert snapshot["snapshot"] is True and snapshot["task_id"] == task_id
        assert snapshot["seq"] == 2 and snapshot["status"] == "running"
        sink.emit(event(task_id, alice.id, 3, "completed"))
        live = receive_json(socket)
        assert (live["seq"], live["status"]) == (3, "completed")


def _next_after(socket, task_id: str, after_seq: int) -> dict:
    """The next message about `task_id` with a seq above `after_seq`.

    An event emitted while the viewer connects can arrive in the on-connect snapshot only (it
    was published before the viewer subscribed) or in both the snapshot and live (published in
    between), so the first sighting may be either, and repeats are skipped by seq.
    """
    while True:
        message = receive_json(socket)
        if message.get("task_id") == task_id and int(message["seq"]) > after_seq:
            return message


def test_a_seq_gap_is_filled_from_the_stream(client, alice, sink, api_settings):
    task_id = str(uuid.uuid4())
    with client.websocket_connect(f"/ws/{alice.id}?token={alice.token}") as socket:
        sink.emit(event(task_id, alice.id, 1))
        assert _next_after(socket, task_id, 0)["seq"] == 1
        # seq 2 reaches the stream but its publish is lost (as in a pub/sub reconnect)
        missed = event(task_id, alice.id, 2)
        raw = redis.Redis.from_url(api_settings.redis_url)
        raw.xadd(
            ProgressKeys.from_settings(api_settings).events(task_id),
            {"seq": "2", "event": missed.model_dump_json()},
        )
        raw.close()
        sink.emit(event(task_id, alice.id, 3))
        received = [_next_after(socket, task_id, 1), _next_after(socket, task_id, 2)]
    assert [(m["seq"], m.get("snapshot")) for m in received] == [(2, None), (3, None)]
    assert received[0]["event_id"] == missed.event_id


def test_replay_on_request_only_for_own_tasks(client, alice, bob, sink):
    task_id = str(uuid.uuid4())
    sent = [event(task_id, alice.id, seq) for seq in (1, 2, 3)]
    for item in sent:
        sink.emit(item)
    with client.websocket_connect(f"/ws/{alice.id}?token={alice.token}") as socket:
        receive_json(socket)  # the snapshot
        socket.send_text(json.dumps({"task_id": task_id, "after_seq": 1}))
        replayed = [receive_json(socket), receive_json(socket)]
        assert [m["event_id"] for m in replayed] == [e.event_id for e in sent[1:]]
    with client.websocket_connect(f"/ws/{bob.id}?token={bob.token}") as socket:
        socket.send_text(json.dumps({"task_id": task_id, "after_seq": 0}))
        answer = receive_json(socket)
        assert answer["type"] == "error" and answer["detail"] == "no such task"
        socket.send_text(json.dumps({"task_id": task_id, "after_seq": -1}))
        assert receive_json(socket)["field"] == "after_seq"
        socket.send_text("hello?")
        assert receive_json(socket)["type"] == "error"


def test_server_pings_at_the_configured_interval(deployed, api_settings, api_config, alice):
    fast = api_settings.model_copy(update={"websocket_ping_interval": 0.1})
    with (
        TestClient(create_app(fast, config=replace(api_config))) as quick,
        quick.websocket_connect(f"/ws/{alice.id}?token={alice.token}") as socket,
    ):
        assert socket.receive_text() == "ping"
        assert socket.receive_text() == "ping"
