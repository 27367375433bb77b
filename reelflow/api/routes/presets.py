"""Preset listings: every option kind, effects, caption animations, qualities, platforms.

All of them are read from the tables in `reelflow.presets`, the same ones the spec models derive
their choices from, so a listed name is always one a render accepts.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from reelflow.api.safejson import SafeJsonRoute
from reelflow.api.schemas import OptionChoiceOut, OptionOut
from reelflow.models import field_of
from reelflow.presets import (
    CAPTION_ANIMATION_DEFAULTS,
    CAPTION_ANIMATIONS,
    EFFECTS_PRESETS,
    OPTION_TABLES,
    PLATFORM_PRESETS,
    QUALITY_PRESETS,
    describe,
)

router = APIRouter(route_class=SafeJsonRoute, tags=["presets"])


@router.get("/video/options", response_model=dict[str, OptionOut])
async def options() -> dict[str, OptionOut]:
    """Every option of a reel spec, keyed by its dotted field: default, names and what each does.

    The web page fills its choices from here.
    """
    return {
        path: OptionOut(
            default=field_of(path).default,
            choices=[
                OptionChoiceOut(name=name, description=describe(choice))
                for name, choice in table.items()
            ],
        )
        for path, table in OPTION_TABLES.items()
    }


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
