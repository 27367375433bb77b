"""The one place exceptions become HTTP errors.

Every error body is JSON of one shape, naming the field at fault when there is one::

    {"detail": "title: must not be blank", "field": "title", "message": "must not be blank",
     "errors": [{"field": "title", "message": "must not be blank"}]}

Bad input is always a 4xx; only our own bugs and unreachable services answer 5xx.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from reelflow.engine.errors import InputError
from reelflow.store.files import QuotaExceeded, UploadInUse

log = logging.getLogger(__name__)

# Request locations FastAPI puts first in an error's "loc"; the field is what follows.
_LOCATIONS = {"body", "query", "path", "header", "cookie"}


class ApiError(Exception):
    """An error with its HTTP status, raised by routes and dependencies."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.field = field
        self.headers = headers
        self.private_detail: str | None = None


def not_found(field: str, what: str = "no such item") -> ApiError:
    """404 for unknown ids and other users' ids alike (never 403: that would confirm it exists)."""
    return ApiError(404, what, field=field)


def unavailable(service: str, message: str, *, retry_after_s: int = 5) -> ApiError:
    """503: a service we depend on (Redis, database, Prefect) does not answer.

    `message` goes to the log, not to the client: driver errors name hosts, ports and users.
    """
    log.warning("%s unavailable: %s", service, message)
    headers = {"Retry-After": str(retry_after_s)}
    error = ApiError(503, f"{service} unavailable; try again later", field=None, headers=headers)
    error.private_detail = f"{service} unavailable: {message}"  # /health shows it to users
    return error


def error_body(problems: Iterable[tuple[str | None, str]]) -> dict[str, Any]:
    """The JSON body for a list of (field, message) problems; the first one is the headline."""
    items = [{"field": field, "message": message} for field, message in problems]
    first = items[0] if items else {"field": None, "message": "error"}
    detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return {"detail": detail, "field": first["field"], "message": first["message"], "errors": items}


def error_response(
    status_code: int,
    problems: Iterable[tuple[str | None, str]],
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A JSON error response in the shape above."""
    return JSONResponse(error_body(problems), status_code=status_code, headers=headers)


def _field(loc: Iterable[Any]) -> str | None:
    parts = [str(p) for p in loc]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or None


def _validation_message(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "literal_error":
        expected = (err.get("ctx") or {}).get("expected", "")
        return f"{err.get('input')!r} is not one of {expected}"
    msg = str(err.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


def _input_error_status(exc: InputError) -> int:
    # The store reports an upload over the size cap as an InputError like any other bad file;
    # its wording is the only thing that tells the two apart, and "too large" deserves 413.
    if isinstance(exc, UploadInUse):
        return 409
    return 413 if isinstance(exc, QuotaExceeded) or "upload limit" in exc.reason else 422


def _input_error_problems(exc: InputError) -> list[tuple[str | None, str]]:
    # parse() joins every problem with "; " behind the first field's name; later ones carry
    # their own "field: " prefix. A part without one belongs to the message before it.
    first, *rest = exc.reason.split("; ")
    problems: list[tuple[str | None, str]] = [(exc.field, first)]
    for part in rest:
        field, sep, message = part.partition(": ")
        if sep and field and " " not in field:
            problems.append((field, message))
        else:
            last_field, last_message = problems[-1]
            problems[-1] = (last_field, f"{last_message}; {part}")
    return problems


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the JSON shape above."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, [(exc.field, exc.message)], exc.headers)

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> JSONResponse:
        return error_response(_input_error_status(exc), _input_error_problems(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [(_field(e.get("loc", ())), _validation_message(e)) for e in exc.errors()]
        return error_response(422, problems or [(None, "invalid request")])

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = dict(exc.headers) if exc.headers else None
        field = getattr(exc, "field", None) or ("body" if exc.status_code == 413 else None)
        return error_response(exc.status_code, [(field, message)], headers)

    @app.exception_handler(RedisError)
    async def _redis_down(request: Request, exc: RedisError) -> JSONResponse:
        log.warning("Redis error on %s %s: %s", request.method, request.url.path, exc)
        return error_response(503, [(None, "Redis unavailable; try again later")],
                              {"Retry-After": "5"})  # fmt: skip

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database error on %s %s: %s", request.method, request.url.path, exc)
        # the driver's message names hosts, ports and users: the log has it, the client not
        return error_response(503, [(None, "database unavailable; try again later")],
                              {"Retry-After": "5"})  # fmt: skip

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, [(None, "internal error; the server log has the details")])
