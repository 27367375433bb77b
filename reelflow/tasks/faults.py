"""Deliberate transient failures for reliability tests (off unless REELFLOW_INJECT_FAULTS)."""

from __future__ import annotations

from reelflow.engine.errors import MediaError
from reelflow.settings import Settings


def maybe_fail(settings: Settings, step_name: str, attempt: int) -> None:
    """Fail this attempt if the settings ask for it (e.g. ``render-reel:1`` fails attempt 1)."""
    if not settings.inject_faults:
        return
    for item in settings.inject_faults.split(","):
        name, _, count = item.strip().partition(":")
        if name == step_name and attempt <= int(count or 1):
            raise MediaError(
                f"injected transient failure in {name} (attempt {attempt})", transient=True
            )
