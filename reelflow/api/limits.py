"""Request limits: reel creation per user (Redis fixed window) and the request body size.

The rate limit counts reels, not requests (a batch of ten is ten), in a fixed window shared by
every API process through Redis; the answer to a caller over the limit is 429 with Retry-After.
The body limit is per route: the upload routes (`UPLOAD_ROUTES`) may carry files, every other
route a small JSON body (``api_max_json_kb``, 1 MB by default), so a JSON body can never be
sized like an upload. It refuses an oversized Content-Length before reading a byte, and stops a
body without one (chunked) at the first byte over the limit.
"""

from __future__ import annotations

import math
import re
import time

import redis.asyncio as aioredis
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelflow.api.errors import ApiError, error_response, unavailable


async def take_reels(
    client: aioredis.Redis,
    prefix: str,
    user_id: str,
    count: int,
    *,
    limit: int,
    window_s: int,
) -> None:
    """Count `count` reel starts for `user_id`; raise 429 if that goes over `limit`.

    A limit of 0 or less disables the check. A refused request does not use up the window.
    """
    if limit <= 0:
        return
    now = time.time()
    window = int(now // window_s)
    key = f"{prefix}:ratelimit:{user_id}:{window}"
    try:
        async with client.pipeline(transaction=True) as pipe:
            pipe.incrby(key, count)
            pipe.expire(key, window_s + 5)
            used, _ = await pipe.execute()
        if used > limit:
            await client.decrby(key, count)  # give back what this refused request took
    except (aioredis.RedisError, OSError) as exc:
        raise unavailable("Redis", str(exc)) from None
    if used > limit:
        retry_after = max(1, math.ceil((window + 1) * window_s - now))
        message = f"at most {limit} reels per {window_s} s; try again in {retry_after} s"
        raise ApiError(429, message, field="rate_limit", headers={"Retry-After": str(retry_after)})


class _TooLarge(HTTPException):
    """Raised from `receive`: an HTTPException, so FastAPI's body parsing lets it through."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body is larger than the {max_bytes / 2**20:.3g} MB limit")


# (method, path) of the routes that take multipart uploads; everything else is JSON-sized.
UPLOAD_ROUTES = (
    ("POST", re.compile(r"^/api/v1/projects/?$")),
    ("POST", re.compile(r"^/api/v1/music/?$")),
)


def takes_uploads(method: str, path: str) -> bool:
    """Whether the route at `method` `path` accepts file uploads (and their larger bodies)."""
    return any(method == m and pattern.match(path) for m, pattern in UPLOAD_ROUTES)


class BodySizeLimit:
    """ASGI middleware answering 413 for HTTP request bodies over the route's limit.

    Upload routes get `max_bytes`; every other route gets `max_json_bytes`.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_json_bytes: int | None = None) -> None:
        self.app = app
        self.upload_bytes = max_bytes
        self.json_bytes = max_json_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        uploads = takes_uploads(scope["method"], scope["path"])
        limit = self.upload_bytes if uploads else self.json_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        limit_mb = limit / 2**20
        response = error_response(
            413, [("body", f"request body is larger than the {limit_mb:.3g} MB limit")]
        )
        response.headers["Connection"] = "close"  # do not read the rest of a huge upload
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
