"""Bodies: the JSON cap per route, authentication before the body is read, memory bounded."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

import httpx
import pytest

from tests.security.conftest import API, rss_mb

MB = 2**20


def _raw_request(base: str, method: str, path: str, headers: dict[str, str], body_mb: int):
    """Send a request whose body is `body_mb` MB of spaces, as a hostile client would: one 1 MB
    buffer reused, so the client costs no memory. Returns (status line, bytes sent)."""
    url = urlparse(base)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    head = [f"{method} {path} HTTP/1.1", f"Host: {url.hostname}", f"Content-Length: {body_mb * MB}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    chunk = b"[" + b" " * (MB - 1)
    sent = 0
    try:
        for _ in range(body_mb):
            sock.sendall(chunk)
            sent += len(chunk)
    except OSError:  # the server answered and closed: it did not read the rest
        pass
    sock.settimeout(10)
    try:
        reply = sock.recv(4096).decode("latin-1")
    except OSError:
        reply = ""
    sock.close()
    return reply.split("\r\n", 1)[0], sent


def _memory_growth_mb(action) -> float:
    before = rss_mb()
    action()
    time.sleep(0.2)
    return rss_mb() - before


def test_unauthenticated_50_mb_json_is_refused_unread(sec_server):
    path = f"{API}/projects/x/word-timings"
    outcome = {}

    def attack():
        outcome["status"], outcome["sent"] = _raw_request(
            sec_server, "PATCH", path, {"Content-Type": "application/json"}, 50
        )

    growth = _memory_growth_mb(attack)
    # Over the JSON cap: refused by its Content-Length before authentication or a byte read.
    assert " 413 " in outcome["status"], outcome
    assert growth < 50, f"API grew by {growth:.0f} MB"


def _headers_only(base: str, method: str, path: str, headers: dict[str, str], length: int) -> str:
    """Announce a body of `length` bytes and never send it: only a server that answers
    without reading the body replies (before the 3 s timeout)."""
    url = urlparse(base)
    sock = socket.create_connection((url.hostname, url.port), timeout=3)
    head = [f"{method} {path} HTTP/1.1", f"Host: {url.hostname}", f"Content-Length: {length}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    try:
        return sock.recv(4096).decode("latin-1").split("\r\n", 1)[0]
    except TimeoutError:
        return "no answer: the server waited for the body"
    finally:
        sock.close()


@pytest.mark.parametrize(
    "method, path, content_type, length",
    [
        ("PATCH", "/projects/x/word-timings", "application/json", 500_000),
        ("POST", "/video/generate-advanced/x", "application/json", 1000),
        ("POST", "/video/batch-generate-advanced", "application/json", 1000),
        ("POST", "/music", "multipart/form-data; boundary=x", 1_500_000),
        ("POST", "/projects", "multipart/form-data; boundary=x", 1_500_000),
        ("DELETE", "/projects/x", "application/json", 10),
    ],
)
def test_unauthenticated_body_gets_401_before_it_is_read(
    sec_server, method, path, content_type, length
):
    status = _headers_only(sec_server, method, f"{API}{path}", {"Content-Type": content_type},
                           length)  # fmt: skip
    assert " 401 " in status, status


def test_unauthenticated_upload_is_refused_before_reading(sec_server):
    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    outcome = {}

    def attack():
        outcome["status"], outcome["sent"] = _raw_request(
            sec_server, "POST", f"{API}/music", headers, 8
        )

    growth = _memory_growth_mb(attack)
    assert " 401 " in outcome["status"], outcome
    assert growth < 50


@pytest.mark.parametrize("token", ["", "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "Bearer  "])
def test_bad_credentials_on_a_body_route_answer_401(sec_client, token):
    headers = {"Authorization": token} if token else {}
    response = sec_client.post(f"{API}/video/generate-advanced/x", headers=headers, json={})
    assert response.status_code == 401
    assert response.json()["field"] == "Authorization"


def test_authenticated_json_over_the_cap_is_413(sec_client, mallory):
    body = b'{"corrections": {"0": [1, 2]}, "pad": "' + b"x" * (2 * MB) + b'"}'
    response = sec_client.patch(
        f"{API}/projects/x/word-timings",
        headers=mallory.headers | {"Content-Type": "application/json"},
        content=body,
    )
    assert response.status_code == 413 and response.json()["field"] == "body"


def test_chunked_json_over_the_cap_is_stopped_while_streaming(sec_server, mallory):
    def chunks():
        yield b'{"corrections": {"0": ['
        for _ in range(3):
            yield b" " * MB

    response = httpx.patch(
        f"{sec_server}{API}/projects/x/word-timings",
        headers=mallory.headers | {"Content-Type": "application/json"},
        content=chunks(),
        timeout=10,
    )
    assert response.status_code == 413 and response.json()["field"] == "body"


def test_upload_route_keeps_the_upload_cap(sec_client, mallory):
    # 1.5 MB: over the JSON cap but under the 2 MB upload cap, so the file itself is judged.
    data = b"\0" * (3 * MB // 2)
    response = sec_client.post(
        f"{API}/music", headers=mallory.headers, files={"file": ("x.wav", data, "audio/wav")}
    )
    assert response.status_code == 422 and response.json()["field"] == "file"


def test_json_route_refuses_a_multipart_body_sized_like_an_upload(sec_client, mallory):
    data = b"\0" * (3 * MB // 2)
    response = sec_client.post(
        f"{API}/video/generate-advanced/x",
        headers=mallory.headers,
        files={"file": ("x.wav", data, "audio/wav")},
    )
    assert response.status_code == 413


def test_a_batch_too_big_for_a_flow_run_is_413_naming_project_ids(sec_client, mallory):
    """Each batch item carries its project's whole spec: 30 long scripts would be ~570 KiB of
    run parameters, which the Prefect server refuses (a 503 here before): say so, up front."""
    script = "A long script for a batch that is too big. " * 430  # ~19 KB
    ids = []
    for n in range(30):
        created = sec_client.post(
            f"{API}/projects",
            headers=mallory.headers,
            data={"title": f"long {n}", "script": script},
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    response = sec_client.post(
        f"{API}/video/batch-generate-advanced", headers=mallory.headers, json={"project_ids": ids}
    )
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["field"] == "project_ids" and "fewer projects" in body["message"], body
    small = sec_client.post(
        f"{API}/video/batch-generate-advanced",
        headers=mallory.headers,
        json={"project_ids": ids[:5]},
    )
    assert small.status_code == 503  # accepted by the check; no Prefect in this suite
