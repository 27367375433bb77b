"""JSON from strangers: bounded nesting, finite numbers, errors that name the field.

Python's `json` accepts ``NaN``, ``Infinity`` and ``1e400`` (which becomes infinity), recurses
once per nesting level (5000 levels raise `RecursionError`) and refuses integers over 4300 digits
with a `ValueError`. FastAPI turns the last two into a bare 400 "error parsing the body"; NaN went
through to Prefect and came back as a 503. Here every one is a 422 naming the field at fault:

- nesting is measured before parsing, on the text with its strings removed (C-speed scans);
- non-finite numbers are found after parsing, with the dotted path to the first one.

`SafeJsonRoute` makes FastAPI read every JSON body through `loads`.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

MAX_DEPTH = 32
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[{]}")


class JsonBodyError(HTTPException):
    """A 422 raised while FastAPI reads a body: an `HTTPException`, so FastAPI lets it through
    instead of turning it into a bare 400; `field` is the dotted path at fault."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(422, message)
        self.field = field


def depth_of(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings do not count)."""
    brackets = _STRINGS.sub(b"", raw).translate(None, _NOT_BRACKETS)
    steps = (1 if b in b"[{" else -1 for b in brackets)
    return max(itertools.accumulate(steps, initial=0))


def first_non_finite(value: Any, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The path to the first NaN or infinite number inside `value`, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = first_non_finite(item, (*path, str(key)))
        if found is not None:
            return found
    return None


def loads(raw: bytes | str, *, field: str = "body", max_depth: int = MAX_DEPTH) -> Any:
    """Parse untrusted JSON; `JsonBodyError` (422) naming the field for anything unsafe.

    `field` names the whole text (``body``, or a form field such as ``style``); a non-finite
    number is reported at its own dotted path below it.
    """
    data = raw.encode() if isinstance(raw, str) else raw
    if depth_of(data) > max_depth:
        raise JsonBodyError(f"is nested deeper than {max_depth} levels", field=field)
    try:
        value = json.loads(data)
    except RecursionError:  # unreachable after the depth check; kept as a guard
        raise JsonBodyError("is nested too deeply", field=field) from None
    except ValueError as exc:  # invalid JSON, or an integer too long to convert
        raise JsonBodyError(f"is not valid JSON ({exc})", field=field) from None
    found = first_non_finite(value)
    if found is not None:
        where = ".".join(found) if field == "body" and found else ".".join((field, *found))
        where = where or field
        raise JsonBodyError("must be a finite number (NaN and Infinity are not)", field=where)
    return value


class SafeJsonRequest(Request):
    """A request whose `json()` is `loads` (so FastAPI's body parsing uses it)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class SafeJsonRoute(APIRoute):
    """An `APIRoute` that reads JSON bodies with `loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def safe_handler(request: Request) -> Response:
            return await handler(SafeJsonRequest(request.scope, request.receive))

        return safe_handler
