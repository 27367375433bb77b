"""Preset listings: effects, caption animations, qualities, platforms (public data)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from reelflow.presets import (
    CAPTION_ANIMATION_DEFAULTS,
    CAPTION_ANIMATIONS,
    EFFECTS_PRESETS,
    PLATFORM_PRESETS,
    QUALITY_PRESETS,
)

router = APIRouter(tags=["presets"])


@router.get("/video/effects-presets")
async def effects_presets() -> list[dict[str, Any]]:
    """Camera-motion presets and their parameters."""
    return [asdict(preset) for preset in EFFECTS_PRESETS.values()]


@router.get("/video/subtitle-animations")
async def subtitle_animations() -> list[dict[str, Any]]:
    """Caption animations, what they look like, and their default settings."""
    return [
        {"name": name, "description": text, "settings": CAPTION_ANIMATION_DEFAULTS[name]}
        for name, text in CAPTION_ANIMATIONS.items()
    ]


@router.get("/video/quality-presets")
async def quality_presets() -> list[dict[str, Any]]:
    """Output sizes, frame rates and encoder settings."""
    return [asdict(preset) for preset in QUALITY_PRESETS.values()]


@router.get("/video/platforms")
async def platforms() -> list[dict[str, Any]]:
    """Destinations: limits, loudness targets and interface safe zones."""
    return [asdict(preset) for preset in PLATFORM_PRESETS.values()]
