"""The web page at ``/``: plain HTML and JavaScript from ``api/static`` (no build step)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

router = APIRouter(include_in_schema=False)

INDEX = Path(__file__).resolve().parents[1] / "static" / "index.html"


@router.get("/")
async def index() -> FileResponse:
    """The viewer: token, project, presets, start, live progress, play and download."""
    return FileResponse(INDEX, media_type="text/html")
