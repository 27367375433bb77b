"""Music: custom uploads and the library (presets + the caller's uploads, with BPM and mood)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Response, UploadFile

from reelflow.api.deps import CurrentUser, StoreDep
from reelflow.api.errors import not_found
from reelflow.api.safejson import SafeJsonRoute
from reelflow.api.schemas import MusicTrackOut, UploadOut
from reelflow.engine.errors import InputError
from reelflow.presets import MUSIC_PRESETS
from reelflow.store import Store

log = logging.getLogger(__name__)
router = APIRouter(route_class=SafeJsonRoute, tags=["music"])

# Tempo is measured on the opening of a track: enough for a steady beat, cheap for long files.
_ANALYSIS_SECONDS = 60.0
_ANALYSIS_RATE = 22_050


def mood_for(bpm: float) -> str:
    """A mood word for a tempo, in the vocabulary of the presets (nearest preset's mood)."""
    nearest = min(MUSIC_PRESETS.values(), key=lambda preset: abs(preset.bpm - bpm))
    return nearest.mood


def describe_upload(store: Store, user_id: str, upload_id: str) -> None:
    """Measure an uploaded track's tempo and store BPM and mood with it (runs after the reply).

    Analysis, not rendering: the same beat tracker the renderer uses, on the first minute.
    """
    upload = store.get_upload(user_id, upload_id)
    if upload is None:
        return
    try:
        from reelflow.engine.audio import load_audio
        from reelflow.engine.music.analysis import analyze_music

        samples = load_audio(
            store.upload_path(upload), sample_rate=_ANALYSIS_RATE, max_duration_s=_ANALYSIS_SECONDS
        )
        bpm = round(float(analyze_music(samples, _ANALYSIS_RATE).tempo_bpm), 1)
    except Exception as exc:  # a track without a beat is still a usable track
        log.info("no tempo for upload %s: %s", upload_id, exc)
        store.set_upload_details(user_id, upload_id, {"bpm": None, "mood": None})
        return
    store.set_upload_details(user_id, upload_id, {"bpm": bpm, "mood": mood_for(bpm)})


@router.post("/music", status_code=201, response_model=UploadOut)
async def upload_music(
    user: CurrentUser,
    store: StoreDep,
    background_tasks: BackgroundTasks,
    file: Annotated[UploadFile, File(description="wav, mp3, m4a, aac, flac or ogg")],
) -> UploadOut:
    """Add a track to the caller's music library; BPM and mood follow shortly."""
    if not (file.filename or file.size):
        raise InputError("no file given", field="file")
    upload = await store.save_upload_async(
        user.id, "music", file, filename=file.filename, field="file"
    )
    background_tasks.add_task(describe_upload, store, user.id, upload.id)
    return UploadOut.of(upload)


@router.delete("/music/{upload_id}", status_code=204)
async def delete_music(upload_id: str, user: CurrentUser, store: StoreDep) -> Response:
    """Remove a track from the caller's library (404 for others' ids; 409, naming the
    projects, while a project still uses it)."""
    return await delete_own_upload(store, user.id, upload_id, kind="music")


@router.delete("/uploads/{upload_id}", status_code=204)
async def delete_upload(upload_id: str, user: CurrentUser, store: StoreDep) -> Response:
    """Delete one of the caller's uploads of any kind, with the same rules as music. A
    project's voice and backgrounds go with the project; this removes a file no project
    uses (or answers 409 naming those that do)."""
    return await delete_own_upload(store, user.id, upload_id)


async def delete_own_upload(
    store: Store, user_id: str, upload_id: str, *, kind: str | None = None
) -> Response:
    if not await asyncio.to_thread(store.delete_upload, user_id, upload_id, kind=kind):
        raise not_found("upload_id", "no such upload")
    return Response(status_code=204)


@router.get("/video/music-library", response_model=list[MusicTrackOut])
async def music_library(user: CurrentUser, store: StoreDep) -> list[MusicTrackOut]:
    """The synthesised presets, then the caller's uploads (newest first)."""
    presets = [
        MusicTrackOut(id=p.name, source="preset", name=p.name, bpm=p.bpm, mood=p.mood)
        for p in MUSIC_PRESETS.values()
    ]
    uploads = await asyncio.to_thread(store.list_uploads, user.id, kind="music")
    own = [
        MusicTrackOut(
            id=u.id,
            source="upload",
            name=u.original_name,
            bpm=(u.details or {}).get("bpm"),
            mood=(u.details or {}).get("mood"),
            duration_s=u.duration_s,
        )
        for u in uploads
    ]
    return presets + own
