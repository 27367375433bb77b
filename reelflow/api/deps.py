"""Dependencies of the routes, as `Annotated` types: services, store, Redis, the caller."""

from __future__ import annotations

import asyncio
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from reelflow.api.config import ApiConfig
from reelflow.api.errors import ApiError
from reelflow.api.gate import STATE_KEY, UNAUTHORIZED
from reelflow.api.services import Services
from reelflow.settings import Settings
from reelflow.store import Store, User

# auto_error=False: a missing header must give our JSON 401, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="The API token from `reelflow users create`")


def get_services(request: Request) -> Services:
    """The process's shared clients (set by the lifespan)."""
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings_dep(services: ServicesDep) -> Settings:
    """The settings the app was created with."""
    return services.settings


def get_config(services: ServicesDep) -> ApiConfig:
    """The API's own knobs."""
    return services.config


def get_redis(services: ServicesDep) -> aioredis.Redis:
    """The async Redis client."""
    return services.redis


async def get_store(services: ServicesDep) -> Store:
    """The project store (503 while the database is down)."""
    return await services.store()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ConfigDep = Annotated[ApiConfig, Depends(get_config)]
RedisDep = Annotated[aioredis.Redis, Depends(get_redis)]
StoreDep = Annotated[Store, Depends(get_store)]


async def authenticate(store: Store, token: str | None) -> User | None:
    """The user holding `token`, or None (the lookup is blocking, so it runs in a thread)."""
    if not token:
        return None
    return await asyncio.to_thread(store.authenticate, token)


async def get_current_user(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The caller, from ``Authorization: Bearer <token>``; 401 otherwise.

    Requests with a body were authenticated before it was read (`api.gate`); reuse that user.
    """
    user = request.scope.get("state", {}).get(STATE_KEY)
    if user is None:
        token = credentials.credentials if credentials is not None else None
        user = await authenticate(store, token)
    if user is None:
        raise ApiError(401, UNAUTHORIZED, field="Authorization",
                       headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
