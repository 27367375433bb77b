"""`create_app()`: the FastAPI application, its lifespan, middleware and routes.

Run it with ``uvicorn reelflow.api.app:create_app --factory`` (``reelflow up`` does). Set
``PREFECT_API_URL`` (or the ``prefect_api_url`` setting) so runs go to the right server: without
one the API refuses to trigger rather than start a throwaway Prefect server inside itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from reelflow.api import ws
from reelflow.api.config import ApiConfig
from reelflow.api.errors import install_error_handlers
from reelflow.api.gate import AuthBeforeBody
from reelflow.api.limits import BodySizeLimit
from reelflow.api.logfilter import install_log_redaction
from reelflow.api.relay import LifecycleWriter, relay_prefect_events
from reelflow.api.routes import (
    account,
    analytics,
    health,
    music,
    presets,
    projects,
    tasks,
    videos,
    web,
)
from reelflow.api.runs import API_PREFIX
from reelflow.api.services import open_services
from reelflow.api.webhooks import start_dispatcher
from reelflow.progress import drain_spool, redis_client
from reelflow.settings import Settings, get_settings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"


def _prefect_api_url(config: ApiConfig) -> str | None:
    if config.prefect_api_url:
        return config.prefect_api_url
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def _drain(settings: Settings) -> int:
    client = redis_client(settings.redis_url)
    try:
        return drain_spool(settings, client)
    finally:
        client.close()


async def _bounded_warm(warming, timeout_s: float = 10.0) -> None:
    # A Prefect server that is slow to answer must not hold the API's start.
    try:
        await asyncio.wait_for(warming, timeout_s)
    except TimeoutError:
        log.info("deployments not looked up within %.0f s of start", timeout_s)


def _lifespan(settings: Settings, config: ApiConfig, prefect_url: str | None):
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await open_services(settings, config, prefect_url)
        app.state.services = services
        try:
            # events a finished run could not deliver before its process ended
            delivered = await asyncio.to_thread(_drain, settings)
            if delivered:
                log.info("delivered %d spooled progress events", delivered)
        except Exception as exc:  # Redis down: the next start (or a worker) delivers them
            log.warning("progress spool not drained: %s", exc)
        services.lifecycle = LifecycleWriter(settings, services.redis)
        services.background.append(start_dispatcher(services))
        if prefect_url:
            relay = relay_prefect_events(services.lifecycle, prefect_url)
            services.background.append(asyncio.create_task(relay, name="prefect-event-relay"))
            names = [config.reel_deployment, config.batch_deployment]
            await _bounded_warm(services.intake.warm(names))
            # runs of tasks a stopped API process accepted but did not create
            sweeper = services.intake.run_sweeper()
            services.background.append(asyncio.create_task(sweeper, name="pending-task-sweeper"))
        else:
            log.warning("PREFECT_API_URL is not set: the API cannot start runs")
        try:
            yield
        finally:
            await services.close()

    return lifespan


def create_app(settings: Settings | None = None, *, config: ApiConfig | None = None) -> FastAPI:
    """The reelflow API. `config` overrides what is read from `settings` (tests)."""
    settings = settings or get_settings()
    config = config or ApiConfig.from_settings(settings)
    # Read now, in the caller's context: Prefect's settings may be a context variable (tests)
    # that the server's event loop thread would not see.
    prefect_url = _prefect_api_url(config)
    app = FastAPI(
        title="reelflow",
        version="1",
        summary="Voiceover or script to a finished vertical reel.",
        lifespan=_lifespan(settings, config, prefect_url),
        # off by default: a public deployment need not publish its own map
        docs_url="/docs" if settings.api_docs else None,
        redoc_url="/redoc" if settings.api_docs else None,
        openapi_url="/openapi.json" if settings.api_docs else None,
    )
    install_error_handlers(app)
    install_log_redaction()
    # The middleware added last runs first: trusted hosts, CORS, the body size limit (by the
    # route: uploads or JSON), then authentication, so a bad host, a huge body or an anonymous
    # caller is refused before a byte of the body is read.
    app.add_middleware(AuthBeforeBody, prefix=API_PREFIX)
    app.add_middleware(
        BodySizeLimit, max_bytes=config.max_request_bytes, max_json_bytes=config.max_json_bytes
    )
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=config.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=config.trusted_hosts)

    api = APIRouter(prefix=API_PREFIX)
    for module in (health, account, projects, music, videos, tasks, presets, analytics):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(ws.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
