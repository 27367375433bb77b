"""WebSocket floods and authentication: bounded per socket, per user, and before the token."""

from __future__ import annotations

import json
import logging
import time
from types import SimpleNamespace

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from reelflow.api.logfilter import install_log_redaction, redact
from reelflow.api.ws import ReplayBudget, Viewer
from tests.security.conftest import rss_mb


def _url(base: str, user_id: str, query: str = "") -> str:
    return base.replace("http://", "ws://") + f"/ws/{user_id}" + query


def _close_code(socket, timeout: float = 6.0) -> int | None:
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            socket.recv(timeout=deadline - time.monotonic())
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None
    return None


def _authenticated(base: str, user) -> object:
    socket = connect(_url(base, user.id), open_timeout=5)
    socket.send(json.dumps({"token": user.token}))
    socket.send("ping")
    deadline = time.monotonic() + 5
    while socket.recv(timeout=deadline - time.monotonic()) != "pong":
        pass
    return socket


def test_query_token_is_refused_by_default(sec_server, mallory):
    with connect(_url(sec_server, mallory.id, f"?token={mallory.token}")) as socket:
        assert _close_code(socket) == 4401


def test_subprotocol_authenticates_and_is_echoed(sec_server, mallory):
    protocols = ["reelflow", f"bearer.{mallory.token}"]
    with connect(_url(sec_server, mallory.id), subprotocols=protocols) as socket:
        assert socket.subprotocol == "reelflow"
        socket.send("ping")
        deadline = time.monotonic() + 5
        while socket.recv(timeout=deadline - time.monotonic()) != "pong":
            pass


@pytest.mark.parametrize(
    "first", ["", "nope", '{"token": 5}', '{"token": ["x"]}', "[" * 5000, '{"token": NaN}']
)
def test_bad_first_messages_are_4401(sec_server, mallory, first):
    with connect(_url(sec_server, mallory.id)) as socket:
        socket.send(first)
        assert _close_code(socket) == 4401


def test_another_users_socket_is_4404(sec_server, mallory, victim):
    with connect(_url(sec_server, victim.id)) as socket:
        socket.send(json.dumps({"token": mallory.token}))
        assert _close_code(socket) == 4404


def test_silent_unauthenticated_socket_is_dropped_quickly(sec_server, mallory, sec_settings):
    started = time.monotonic()
    with connect(_url(sec_server, mallory.id)) as socket:
        assert _close_code(socket, timeout=10) == 4401
    assert time.monotonic() - started < sec_settings.ws_auth_timeout_s + 1.5


def test_sockets_per_user_are_limited(sec_server, victim, sec_settings):
    limit = sec_settings.ws_max_per_user
    sockets = [_authenticated(sec_server, victim) for _ in range(limit)]
    try:
        with connect(_url(sec_server, victim.id)) as extra:
            extra.send(json.dumps({"token": victim.token}))
            assert _close_code(extra) == 4429
        sockets.pop().close()
        deadline = time.monotonic() + 5
        while True:  # the server frees the slot once it has stopped the viewer
            try:
                sockets.append(_authenticated(sec_server, victim))
                break
            except ConnectionClosed:
                assert time.monotonic() < deadline, "the closed socket's slot was never freed"
                time.sleep(0.2)
    finally:
        for socket in sockets:
            socket.close()


def test_replay_flood_is_throttled_and_memory_stays_bounded(sec_server, mallory, sec_settings):
    socket = _authenticated(sec_server, mallory)
    before = rss_mb()
    requests, batch = 20_000, 500
    answers = []
    try:
        request = json.dumps({"task_id": "0" * 36, "after_seq": 0})
        for _ in range(requests // batch):  # read as we go, as a well-behaved flooder would
            for _ in range(batch):
                socket.send(request)
            socket.send("ping")
            deadline = time.monotonic() + 30
            while (message := socket.recv(timeout=deadline - time.monotonic())) != "pong":
                if message != "ping":  # the server's keep-alive
                    answers.append(json.loads(message))
    finally:
        socket.close()
    growth = rss_mb() - before
    throttled = [a for a in answers if "replay requests a minute" in a.get("detail", "")]
    served = [a for a in answers if a.get("detail") == "no such task"]
    assert len(served) <= sec_settings.ws_replays_per_minute
    assert len(throttled) + len(served) == requests
    assert growth < 50, f"API grew by {growth:.0f} MB over {requests} replay requests"


def test_replay_budget_refills_over_time():
    budget = ReplayBudget(60)
    assert sum(budget.take() for _ in range(100)) == 20  # a burst of a third of a minute
    budget.at -= 2.0  # two seconds later: two more
    assert sum(budget.take() for _ in range(10)) == 2


def test_an_outbox_that_is_not_read_is_bounded(sec_settings):
    services = SimpleNamespace(settings=sec_settings)
    viewer = Viewer(websocket=None, services=services, user=SimpleNamespace(id="u"))
    for i in range(sec_settings.ws_outbox_max * 3):
        viewer.send_json({"n": i})
    assert viewer.outbox.qsize() == sec_settings.ws_outbox_max
    assert viewer.overflowed.is_set()  # the socket is closed (1008) and the client replays


def test_tokens_and_forged_lines_stay_out_of_the_logs(sec_client):
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    install_log_redaction()
    logger = logging.getLogger("uvicorn.access")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    token = "rf_0123456789abcdef_" + "A" * 43
    try:  # the call uvicorn makes for every request
        logger.info('%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "GET",
                    f"/ws/u?token={token}", "1.1", 101)  # fmt: skip
        logger.info('%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "GET",
                    "/x\r\n1.2.3.4 - \"GET /admin\" 200", "1.1", 404)  # fmt: skip
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert token not in records[0] and "token=***" in records[0]
    assert "\r\n" not in records[1] and "\\x0d\\x0a" in records[1]
    assert redact(f"Authorization: Bearer {token}").endswith("rf_0123456789abcdef_***")
