"""Preset listings: every option kind, effects, caption animations, qualities, platforms, voices.

All of them are read from the tables in `reelflow.presets`, the same ones the spec models derive
their choices from, so a listed name is always one a render accepts.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from reelflow.api.deps import CurrentUser, ServicesDep
from reelflow.api.safejson import SafeJsonRoute
from reelflow.api.schemas import OptionChoiceOut, OptionOut
from reelflow.engine.captions.preview import preview_key, render_preview
from reelflow.engine.errors import InputError
from reelflow.engine.speech.voices import installed as installed_voices
from reelflow.models import CaptionSpec, check_platform_aspects, field_of
from reelflow.presets import (
    ASPECT_PRESETS,
    CAPTION_ANIMATION_DEFAULTS,
    CAPTION_ANIMATIONS,
    EFFECTS_PRESETS,
    OPTION_TABLES,
    PLATFORM_PRESETS,
    QUALITY_PRESETS,
    AspectName,
    CaptionLookName,
    EmphasisMode,
    PlatformName,
    describe,
)

router = APIRouter(route_class=SafeJsonRoute, tags=["presets"])

PREVIEW_QUALITY = "low"  # caption previews are drawn at this quality's size of the aspect
PREVIEW_SLOTS = 2


@router.get("/video/options", response_model=dict[str, OptionOut])
async def options() -> dict[str, OptionOut]:
    """Every option of a reel spec, keyed by its dotted field: default, names and what each does.

    The web page fills its choices from here. ``voice`` lists the voices installed here (as
    `reelflow voices` does); its default (null) picks one from the text's language.
    """
    listing = {
        path: OptionOut(
            default=field_of(path).default,
            choices=[
                OptionChoiceOut(name=name, description=describe(choice))
                for name, choice in table.items()
            ],
        )
        for path, table in OPTION_TABLES.items()
    }
    voices = await asyncio.to_thread(installed_voices)
    listing["voice"] = OptionOut(
        default=field_of("voice").default,
        choices=[
            OptionChoiceOut(name=v.name, description=f"{v.kind}, {v.language}") for v in voices
        ],
    )
    return listing


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


@router.get(
    "/video/caption-preview",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def caption_preview(
    request: Request,
    user: CurrentUser,
    services: ServicesDep,
    style: Annotated[CaptionLookName, Query(description="The caption look")] = "clean",
    aspect: Annotated[AspectName, Query(description="The reel's picture shape")] = "9:16",
    platform: Annotated[PlatformName, Query(description="Whose safe zone")] = "instagram",
    emphasis: Annotated[EmphasisMode | None, Query(description="Default: the look's")] = None,
) -> FileResponse:
    """A still (JPEG) of sample words in a caption look, drawn as a reel's captions are, at the
    aspect's size in the low quality; each distinct still is drawn once and kept on disk."""
    try:
        check_platform_aspects(platform, aspect, None)
    except ValueError as exc:
        raise InputError(str(exc).partition(": ")[2], field="aspect") from None
    spec = CaptionSpec(style=style, **({"emphasis": emphasis} if emphasis else {}))
    width, height = ASPECT_PRESETS[aspect].size(QUALITY_PRESETS[PREVIEW_QUALITY])
    zone = PLATFORM_PRESETS[platform].safe_zone_for(aspect)
    look = spec.to_style()
    key = preview_key(look, width=width, height=height, safe_zone=zone)
    path = services.settings.data_dir / "previews" / f"caption-{key}.jpg"
    if not path.is_file():
        async with _preview_slots(request):
            if not path.is_file():  # drawn by another request meanwhile
                await asyncio.to_thread(
                    render_preview, look, path, width=width, height=height, safe_zone=zone
                )
    return FileResponse(
        path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )


def _preview_slots(request: Request) -> asyncio.Semaphore:
    """At most `PREVIEW_SLOTS` stills drawn at once per app (each is one short ffmpeg)."""
    state = request.app.state
    if getattr(state, "caption_preview_slots", None) is None:
        state.caption_preview_slots = asyncio.Semaphore(PREVIEW_SLOTS)
    return state.caption_preview_slots
