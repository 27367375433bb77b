"""The Redis sink against the real Redis: channel, hash, stream, ordering rules, TTLs, numbering."""

from __future__ import annotations

import time

import redis

from reelflow.progress.events import ProgressEvent
from reelflow.progress.keys import ProgressKeys
from reelflow.progress.redis_sink import RedisProgressSink
from reelflow.progress.reporter import ProgressReporter
from reelflow.settings import Settings
from tests.progress.helpers import event, read_channel, stream_events
from tests.redis_server import free_port


def test_events_arrive_in_order_on_channel_hash_and_stream(
    psettings: Settings, rclient: redis.Redis
) -> None:
    keys = ProgressKeys.from_settings(psettings)
    pubsub = rclient.pubsub()
    pubsub.subscribe(keys.channel("u1"))
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"

    sink = RedisProgressSink(psettings)
    reporter = ProgressReporter("run-1", "u1", [sink], min_interval_s=0)
    reporter.status("running")
    for percent, stage in [(10, "voice"), (20, "words"), (40, "captions"), (90, "render")]:
        reporter.milestone(stage, percent)
        # the hash is the latest state the moment emit returns
        assert rclient.hget(keys.status("run-1"), "stage") == stage
    reporter.status("completed", output={"video": "/out/run-1.mp4"})
    reporter.close()

    published = [ProgressEvent.model_validate_json(m["data"]) for m in read_channel(pubsub, 6)]
    stored = stream_events(rclient, keys, "run-1")
    assert [e.seq for e in published] == [1, 2, 3, 4, 5, 6]
    assert stored == published
    status = rclient.hgetall(keys.status("run-1"))
    assert status["status"] == "completed" and status["seq"] == "6" and status["last_seq"] == "6"
    assert status["progress"] == "100.0" and status["user_id"] == "u1"
    assert status["output"] == '{"video": "/out/run-1.mp4"}'
    assert status["event_id"] == published[-1].event_id
    assert status["created_at"] <= status["updated_at"]
    pubsub.close()


def test_throttling_keeps_milestones_and_terminal_events_through_redis(
    psettings: Settings, rclient: redis.Redis
) -> None:
    keys = ProgressKeys.from_settings(psettings)
    sink = RedisProgressSink(psettings)
    reporter = ProgressReporter(
        "run-1", "u1", [sink], min_interval_s=psettings.progress_update_interval
    )
    reporter.status("running")
    reporter.milestone("render", 50, "base video")
    for tenth in range(500, 900):  # 400 ffmpeg updates in well under the 0.5 s interval
        reporter.progress("render", tenth / 10)
    reporter.milestone("render", 90, "encoded")
    reporter.milestone("stored", 100)
    reporter.status("completed")
    sink.close()
    stored = stream_events(rclient, keys, "run-1")
    assert [(e.stage, e.progress) for e in stored] == [
        ("", 0.0),
        ("render", 50.0),
        ("render", 90.0),
        ("stored", 100.0),
        ("", 100.0),
    ]
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]


def test_status_hash_never_goes_backwards_and_terminal_sticks(
    psettings: Settings, rclient: redis.Redis
) -> None:
    keys = ProgressKeys.from_settings(psettings)
    sink = RedisProgressSink(psettings)
    status_key = keys.status("run-1")
    sink.emit(event(3, progress=30))
    sink.emit(event(2, progress=20))  # late: stored for history, state unchanged
    assert rclient.hmget(status_key, "seq", "progress") == ["3", "30.0"]
    sink.emit(event(4, "completed", progress=100))
    sink.emit(event(5, progress=99))  # a straggler after the end: must not reopen the run
    assert rclient.hmget(status_key, "status", "seq", "last_seq") == ["completed", "4", "5"]
    sink.emit(event(6, "crashed"))  # a later terminal state (Prefect's verdict) replaces it
    assert rclient.hget(status_key, "status") == "crashed"
    # a resubmitted run (attempt 2) may start again; old-attempt stragglers may not, and are
    # neither kept for replay nor published (a cut-off worker's late `completed`)
    sink.emit(event(7, attempt=2, progress=10))
    pubsub = rclient.pubsub()
    pubsub.subscribe(f"{psettings.redis_key_prefix}:progress:u1")
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    sink.emit(event(8, "completed", attempt=1, progress=100))
    sink.emit(event(8, attempt=2, progress=20))
    assert rclient.hmget(status_key, "status", "attempt", "progress", "last_seq") == [
        "running",
        "2",
        "20.0",
        "8",
    ]
    published = pubsub.get_message(timeout=2)
    assert published is not None and '"attempt":2' in published["data"]
    assert pubsub.get_message(timeout=0.5) is None
    pubsub.close()
    assert [(e.seq, e.attempt) for e in stream_events(rclient, keys, "run-1")] == [
        (3, 1), (2, 1), (4, 1), (5, 1), (6, 1), (7, 2), (8, 2)
    ]  # fmt: skip
    sink.close()


def test_redelivered_event_is_stored_once(psettings: Settings, rclient: redis.Redis) -> None:
    keys = ProgressKeys.from_settings(psettings)
    sink = RedisProgressSink(psettings)
    first = event(1)
    sink.emit(first)
    sink.emit(first)
    sink.emit(event(2))
    stored = stream_events(rclient, keys, "run-1")
    assert [e.event_id for e in stored] == [first.event_id, stored[1].event_id]
    assert rclient.xlen(keys.events("run-1")) == 2
    sink.close()


def test_ttls_are_set_on_every_key(tmp_path, prefix: str, rclient: redis.Redis) -> None:
    settings = Settings(data_dir=tmp_path, redis_key_prefix=prefix, progress_ttl_s=120)
    keys = ProgressKeys.from_settings(settings)
    sink = RedisProgressSink(settings)
    sink.emit(event(1))
    for key in (keys.status("run-1"), keys.events("run-1"), keys.seen("run-1")):
        assert 0 < rclient.ttl(key) <= 120, key
    assert 0 < rclient.ttl(keys.user_tasks("u1")) <= 120
    rclient.expire(keys.status("run-1"), 30)
    sink.emit(event(2))  # a write refreshes the TTL
    assert rclient.ttl(keys.status("run-1")) > 30
    sink.close()


def test_user_index_lists_the_users_tasks(psettings: Settings, rclient: redis.Redis) -> None:
    keys = ProgressKeys.from_settings(psettings)
    sink = RedisProgressSink(psettings)
    sink.emit(event(1, task_id="a", user_id="u1"))
    sink.emit(event(1, task_id="b", user_id="u1"))
    sink.emit(event(1, task_id="c", user_id="u2"))
    # a crash hook that does not know the user still lands in the user's index and channel
    sink.emit(event(2, "crashed", task_id="a", user_id=None))
    assert set(rclient.zrange(keys.user_tasks("u1"), 0, -1)) == {"a", "b"}
    assert rclient.zrange(keys.user_tasks("u2"), 0, -1) == ["c"]
    assert rclient.hget(keys.status("a"), "user_id") == "u1"
    sink.close()


def test_last_seq_continues_numbering_across_reporters(
    psettings: Settings, rclient: redis.Redis
) -> None:
    keys = ProgressKeys.from_settings(psettings)
    sink = RedisProgressSink(psettings)
    assert sink.last_seq("run-1") == 0
    first = ProgressReporter("run-1", "u1", [sink], min_interval_s=0)
    first.status("running")
    first.milestone("voice", 10)
    first.status("failed", error="boom")
    # e.g. the retried run or an on_crashed hook in another process, with its own sink
    other = RedisProgressSink(psettings)
    second = ProgressReporter(
        "run-1", "u1", [other], min_interval_s=0, start_seq=other.last_seq("run-1"), attempt=2
    )
    second.status("running")
    second.status("completed")
    assert [e.seq for e in stream_events(rclient, keys, "run-1")] == [1, 2, 3, 4, 5]
    assert rclient.hget(keys.status("run-1"), "status") == "completed"
    sink.close()
    other.close()


def test_last_seq_is_zero_when_redis_is_down(tmp_path, prefix: str) -> None:
    settings = Settings(
        data_dir=tmp_path,
        redis_key_prefix=prefix,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        progress_flush_timeout_s=0,
    )
    sink = RedisProgressSink(settings)
    started = time.monotonic()
    assert sink.last_seq("run-1") == 0
    sink.emit(event(4))  # buffered: last_seq still knows about it
    assert sink.last_seq("run-1") == 4
    assert time.monotonic() - started < 3
    sink.close()


def test_stream_and_dedupe_set_stay_bounded(tmp_path, prefix: str, rclient: redis.Redis) -> None:
    settings = Settings(data_dir=tmp_path, redis_key_prefix=prefix, progress_stream_maxlen=10)
    keys = ProgressKeys.from_settings(settings)
    sink = RedisProgressSink(settings)
    reporter = ProgressReporter("run-1", "u1", [sink], min_interval_s=0)
    for n in range(250):
        reporter.milestone("render", n / 2.5)
    assert rclient.zcard(keys.seen("run-1")) <= 20
    # MAXLEN ~ trims whole stream nodes (100 entries), so the bound is approximate
    assert rclient.xlen(keys.events("run-1")) <= 110
    assert rclient.hget(keys.status("run-1"), "last_seq") == "250"
    sink.close()


def test_emit_after_close_still_writes(psettings: Settings, rclient: redis.Redis) -> None:
    # Prefect runs on_completion hooks after the flow body: its sink may already be closed
    sink = RedisProgressSink(psettings)
    sink.emit(event(1))
    sink.close()
    sink.emit(event(2, "completed"))
    status_key = ProgressKeys.from_settings(psettings).status("run-1")
    assert rclient.hget(status_key, "status") == "completed"
    assert not psettings.spool_dir.exists()
