"""``WS /ws/{user_id}``: one user's progress events, live, with nothing lost.

On connect: authenticate (an ``Authorization`` header, the subprotocols ``reelflow`` and
``bearer.<token>``, or a first message that is the token or ``{"token": ...}``, sent within
``ws_auth_timeout_s``; ``?token=`` only when ``ws_query_token`` is on, since URLs end up in
proxy logs), subscribe to the user's channel, send the current status of
the user's active runs (messages with ``"snapshot": true``), then relay live events. A client
sends ``{"task_id": ..., "after_seq": n}`` to get a run's events after ``n`` from the stream;
text ``ping`` gets ``pong``; the server sends text ``ping`` every ``websocket_ping_interval``
seconds. While one of the user's reels waits for a render slot, a ``{"type": "queue", "task_id",
"position", "waiting", "work_queue", "expected_start"}`` message says where it stands, whenever
that changes. A live event whose seq jumps past the last one sent makes the server replay the gap
first; every event is sent once (by event id). If Redis drops, the relay subscribes again and
replays what each run missed. Close codes: 4401 bad or missing token, 4404 another user's id,
4429 too many sockets for this user (``ws_max_per_user``), 1008 a client that does not read its
messages (the outbox holds ``ws_outbox_max``; reconnect and replay). Replay requests are limited
to ``ws_replays_per_minute`` per socket; beyond it they are answered with an error, unserved.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from typing import Any

import redis.asyncio as aioredis
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from reelflow.api.cancellation import cancel_requested, stop_tasks
from reelflow.api.deps import authenticate
from reelflow.api.runs import owner_of, queue_out
from reelflow.api.services import Services
from reelflow.progress import ProgressEvent
from reelflow.progress.reader import replay, subscribe, user_tasks
from reelflow.store import User

log = logging.getLogger(__name__)
router = APIRouter()

SUBPROTOCOL = "reelflow"
TOKEN_SUBPROTOCOL = "bearer."
_SEEN_MAX = 20_000
MAX_MESSAGE_CHARS = 4096  # a replay request is ~100 characters


class ReplayBudget:
    """A token bucket: `per_minute` replays a minute, bursts of a third of it."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.capacity = max(1.0, per_minute / 3)
        self.tokens = self.capacity
        self.at = time.monotonic()

    def take(self) -> bool:
        """Use one replay if the budget allows it."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.per_minute / 60)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


_STOP_GRACE_S = 5.0
_REDIS_ERRORS = (aioredis.RedisError, OSError, TimeoutError)


@router.websocket("/ws/{user_id}", name="progress_socket")
async def progress_socket(websocket: WebSocket, user_id: str, token: str | None = None) -> None:
    """Relay the progress events of `user_id`'s runs to an authenticated viewer."""
    services: Services = websocket.app.state.services
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",")]
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    if token and not services.settings.ws_query_token:
        await websocket.close(
            code=4401, reason="send the token as the first message, not in the URL"
        )
        return
    try:
        user = await _authenticate(websocket, services, token or _protocol_token(offered))
    except WebSocketDisconnect:
        return
    if user is None:
        await websocket.close(code=4401, reason="missing or invalid token")
        return
    if user.id != user_id:
        await websocket.close(code=4404, reason="no such user")
        return
    with _socket_slot(websocket, user.id, services.settings.ws_max_per_user) as admitted:
        if not admitted:
            limit = services.settings.ws_max_per_user
            await websocket.close(code=4429, reason=f"at most {limit} sockets per user")
            return
        await Viewer(websocket, services, user).run()


def _protocol_token(offered: list[str]) -> str | None:
    for protocol in offered:
        if protocol.startswith(TOKEN_SUBPROTOCOL):
            return protocol.removeprefix(TOKEN_SUBPROTOCOL) or None
    return None


@contextlib.contextmanager
def _socket_slot(websocket: WebSocket, user_id: str, limit: int):
    """Count `user_id`'s open sockets in this process; yields whether this one fits."""
    state = websocket.app.state
    if not hasattr(state, "sockets_per_user"):
        state.sockets_per_user = {}
    counts: dict[str, int] = state.sockets_per_user
    if counts.get(user_id, 0) >= limit:
        yield False
        return
    counts[user_id] = counts.get(user_id, 0) + 1
    try:
        yield True
    finally:
        counts[user_id] -= 1
        if counts[user_id] <= 0:
            del counts[user_id]


async def _authenticate(websocket: WebSocket, services: Services, token: str | None):
    if not token:
        header = websocket.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    if not token:
        try:
            first = await asyncio.wait_for(
                websocket.receive_text(), services.settings.ws_auth_timeout_s
            )
        except TimeoutError:
            return None
        token = _token_message(first)
    try:
        store = await services.store()
    except Exception:  # the database is down: nobody can be authenticated now
        await websocket.close(code=1013, reason="database unavailable, try again later")
        raise WebSocketDisconnect(1013) from None
    return await authenticate(store, token)


def _token_message(text: str) -> str | None:
    text = text.strip()
    if text.startswith("{"):
        with contextlib.suppress(ValueError, AttributeError, RecursionError):
            token = json.loads(text).get("token")
            return token if isinstance(token, str) else None
        return None
    return text.removeprefix("Bearer ").strip() or None


class Viewer:
    """One connected viewer: an outbox, what it has been sent, and the tasks feeding it."""

    def __init__(self, websocket: WebSocket, services: Services, user: User) -> None:
        self.websocket = websocket
        self.services = services
        self.settings = services.settings
        self.user = user
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=self.settings.ws_outbox_max)
        self.overflowed = asyncio.Event()
        self.last_seq: dict[str, int] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.replays = ReplayBudget(self.settings.ws_replays_per_minute)

    async def run(self) -> None:
        """Serve the viewer until it disconnects."""
        jobs = [
            asyncio.create_task(self.overflowed.wait()),
            asyncio.create_task(self._write()),
            asyncio.create_task(self._read()),
            asyncio.create_task(self._relay()),
            asyncio.create_task(self._ping()),
        ]
        if self.services.queue_board is not None:  # a job that ends would end the viewer
            jobs.append(asyncio.create_task(self._queue_positions()))
        try:
            await asyncio.wait(jobs, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # a job's failure is how the viewer left (a disconnect); there is nothing to report
            await stop_tasks(jobs, _STOP_GRACE_S)
            for job in jobs:
                if job.done() and not job.cancelled():
                    job.exception()  # retrieved, so asyncio does not log it
        if self.overflowed.is_set():
            with contextlib.suppress(Exception):
                await self.websocket.close(code=1008, reason="too slow: reconnect and replay")

    def _put(self, text: str) -> None:
        # A client that does not read must not make the API hold its messages without end.
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            self.overflowed.set()

    # -- outgoing ------------------------------------------------------------------------

    def send_event(self, event: ProgressEvent, *, again: bool = False) -> None:
        """Queue `event` unless it was sent before (`again`: the client asked for it)."""
        if event.event_id in self._seen and not again:
            return
        self._seen[event.event_id] = None
        while len(self._seen) > _SEEN_MAX:
            self._seen.popitem(last=False)
        self.last_seq[event.task_id] = max(self.last_seq.get(event.task_id, 0), event.seq)
        self._put(event.model_dump_json())

    def send_json(self, message: dict[str, Any]) -> None:
        """Queue any other JSON message."""
        self._put(json.dumps(message, default=str))

    async def _write(self) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                await self.websocket.send_text(await self.outbox.get())

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(self.settings.websocket_ping_interval)
            self._put("ping")

    async def _queue_positions(self) -> None:
        """While the user has reels waiting, send ``{"type": "queue", ...}`` when a position or
        expected start changes (read from the API's shared queue snapshot)."""
        board = self.services.queue_board
        if board is None:
            return
        sent: dict[str, tuple] = {}
        while True:
            await asyncio.sleep(self.settings.queue_status_refresh_s)
            try:
                waiting = [
                    s["task_id"]
                    for s in await user_tasks(self.services.redis, self.settings, self.user.id)
                    if s["status"] == "queued"
                ]
                view = await board.view(waiting) if waiting else None
            except Exception as exc:  # Redis or Prefect away: positions resume when they are back
                log.debug("queue positions for %s unavailable: %s", self.user.id, exc)
                continue
            for task_id in waiting:
                spot = view.spots.get(task_id) if view is not None else None
                if spot is None:
                    continue
                message = queue_out(spot).model_dump(mode="json")
                key = (message["position"], message["waiting"], message["expected_start"][:19])
                if sent.get(task_id) != key:
                    sent[task_id] = key
                    self.send_json({"type": "queue", "task_id": task_id, **message})

    # -- incoming ------------------------------------------------------------------------

    async def _read(self) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                text = (await self.websocket.receive_text()).strip()
                if text == "ping":
                    self._put("pong")
                elif text != "pong":
                    await self._request(text)

    async def _request(self, text: str) -> None:
        try:
            message = json.loads(text) if len(text) <= MAX_MESSAGE_CHARS else None
        except (ValueError, RecursionError):
            message = None
        if not isinstance(message, dict):
            self.send_json({"type": "error", "detail": "send 'ping' or {task_id, after_seq}"})
            return
        if "token" in message and "task_id" not in message:
            return  # a client that always sends its token first; already authenticated
        task_id, after_seq = message.get("task_id"), message.get("after_seq", 0)
        if not isinstance(task_id, str) or not isinstance(after_seq, int) or after_seq < 0:
            detail = "task_id must be a string and after_seq an integer >= 0"
            self.send_json({"type": "error", "field": "after_seq", "detail": detail})
            return
        if not self.replays.take():
            detail = f"at most {self.replays.per_minute} replay requests a minute; wait"
            self.send_json({"type": "error", "field": "after_seq", "detail": detail})
            return
        if not await self._owns(task_id):
            self.send_json({"type": "error", "task_id": task_id, "detail": "no such task"})
            return
        try:
            events = await replay(self.services.redis, self.settings, task_id, after_seq)
        except _REDIS_ERRORS as exc:
            self.send_json({"type": "error", "task_id": task_id, "detail": f"replay failed: {exc}"})
            return
        for event in events:
            self.send_event(event, again=True)

    async def _owns(self, task_id: str) -> bool:
        return await owner_of(self.services, self.user.id, task_id) is not None

    # -- live relay ----------------------------------------------------------------------

    async def _relay(self) -> None:
        delay, first = 0.2, True
        while True:
            try:
                async with subscribe(self.services.redis, self.settings, self.user.id) as live:
                    # subscribed first, then read state: nothing published in between is lost
                    if first:
                        await self._snapshot()
                        first = False
                    else:
                        await self._catch_up()
                    delay = 0.2
                    async for event in live:
                        await self._live(event)
            except _REDIS_ERRORS as exc:
                if cancel_requested():  # the viewer is being stopped: the error was our cancel
                    raise asyncio.CancelledError from exc
                log.warning("progress relay for %s lost Redis (%s); retrying", self.user.id, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _snapshot(self) -> None:
        redis, settings = self.services.redis, self.settings
        for status in reversed(await user_tasks(redis, settings, self.user.id, active_only=True)):
            self.last_seq[status["task_id"]] = int(status.get("last_seq") or status["seq"])
            self.send_json({**status, "snapshot": True})

    async def _catch_up(self) -> None:
        for task_id, seq in list(self.last_seq.items()):
            for event in await replay(self.services.redis, self.settings, task_id, seq):
                self.send_event(event)

    async def _live(self, event: ProgressEvent) -> None:
        last = self.last_seq.get(event.task_id, 0)
        if event.seq > last + 1:  # a gap: something was missed, the stream has it
            for missed in await replay(self.services.redis, self.settings, event.task_id, last):
                self.send_event(missed)
        self.send_event(event)
