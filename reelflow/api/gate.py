"""Authentication before the body: a request that carries one is authenticated first.

FastAPI reads and parses a request's body before it solves the route's dependencies, so without
this an anonymous client could make the API read and parse (and keep in memory) a body of any
permitted size before the 401. This middleware checks the bearer token of every API request
with a body method (POST, PUT, PATCH, DELETE) before a byte of the body is read, refuses with
401 and ``Connection: close`` otherwise, and hands the user on in ``scope["state"]`` so the
route's `CurrentUser` dependency does not look the token up twice.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from reelflow.api.errors import ApiError, error_response

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
STATE_KEY = "authenticated_user"
UNAUTHORIZED = "missing or invalid token; send 'Authorization: Bearer <token>'"


def bearer_token(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class AuthBeforeBody:
    """ASGI middleware: 401 for unauthenticated body-carrying requests under `prefix`."""

    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in BODY_METHODS
            or not scope["path"].startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        from reelflow.api.deps import authenticate  # deps imports the app's services

        try:
            store = await scope["app"].state.services.store()
            user = await authenticate(store, bearer_token(scope))
        except ApiError as exc:  # the store is down: the same 503 the route would give
            response = error_response(exc.status_code, [(exc.field, exc.message)], exc.headers)
            await response(scope, receive, send)
            return
        if user is None:
            headers = {"WWW-Authenticate": "Bearer", "Connection": "close"}
            response = error_response(401, [("Authorization", UNAUTHORIZED)], headers)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[STATE_KEY] = user
        await self.app(scope, receive, send)
