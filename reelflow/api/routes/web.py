"""The web page at ``/``: plain HTML and JavaScript from ``api/static`` (no build step)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

router = APIRouter(include_in_schema=False)

INDEX = Path(__file__).resolve().parents[1] / "static" / "index.html"

# The page loads only its own script and style (no inline code), talks only to its own origin
# (HTTP and WebSocket) and shows videos as blob: URLs; nothing may frame it. An injected
# <script> or a script from elsewhere does not run, so it cannot read the token.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])  # fmt: skip
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@router.get("/")
async def index() -> FileResponse:
    """The viewer: token, project, presets, start, live progress, play and download."""
    return FileResponse(INDEX, media_type="text/html", headers=PAGE_HEADERS)
