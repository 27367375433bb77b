"""Health (no auth: Redis, database, Prefect API; error details for callers with a token) and
the caller's identity."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reelflow.api.deps import CurrentUser, ServicesDep, authenticate
from reelflow.api.gate import bearer_token
from reelflow.api.safejson import SafeJsonRoute
from reelflow.api.schemas import HealthOut, Me
from reelflow.api.services import Services

router = APIRouter(route_class=SafeJsonRoute)

CHECK_TIMEOUT_S = 3.0


async def _timed(check: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except TimeoutError:
        result: dict[str, Any] = {"ok": False, "error": f"no answer in {CHECK_TIMEOUT_S:g} s"}
    except Exception as exc:  # any failure is the answer here, not an error of the endpoint
        text = getattr(exc, "private_detail", None) or str(exc)
        result = {"ok": False, "error": text.splitlines()[0] if text else repr(exc)}
    else:
        result = {"ok": True}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


async def _redis(services: Services) -> None:
    await services.redis.ping()


async def _database(services: Services) -> None:
    store = await services.store()
    if not await asyncio.to_thread(store.ping):
        raise RuntimeError(f"{store.backend} does not answer")


async def _prefect(services: Services) -> None:
    error = await services.require_prefect().api_healthcheck()
    if error is not None:
        raise error


@router.get(
    "/health",
    tags=["health"],
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "Some service is down"}},
)
async def health(services: ServicesDep, request: Request) -> JSONResponse:
    """200 when Redis, the database and the Prefect API all answer, else 503.

    Only an authenticated caller sees why a check failed: driver errors name hosts, ports and
    database users, which are nobody else's business.
    """
    names = ("redis", "database", "prefect")
    results = await asyncio.gather(
        *(_timed(lambda c=c: c(services)) for c in (_redis, _database, _prefect))
    )
    if not await _caller_known(services, request):
        results = [{k: v for k, v in r.items() if k != "error"} for r in results]
    checks = dict(zip(names, results, strict=True))
    ok = all(result["ok"] for result in results)
    body = HealthOut(status="ok" if ok else "degraded", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


async def _caller_known(services: Services, request: Request) -> bool:
    token = bearer_token(request.scope)
    if token is None:
        return False
    try:
        return await authenticate(await services.store(), token) is not None
    except Exception:  # the database is down: nobody is known
        return False


@router.get("/me", tags=["users"], response_model=Me)
async def me(user: CurrentUser) -> Me:
    """The caller's id, name and plan."""
    return Me.of(user)
