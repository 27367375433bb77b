"""Projects: create (multipart, with uploads), list, read, delete; word timings."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from annotated_types import MaxLen
from fastapi import APIRouter, File, Form, Response, UploadFile

from reelflow.api import safejson
from reelflow.api.deletion import delete_project_and_runs
from reelflow.api.deps import CurrentUser, ServicesDep, StoreDep
from reelflow.api.errors import ApiError, not_found
from reelflow.api.safejson import SafeJsonRoute
from reelflow.api.schemas import CorrectionsRequest, ProjectOut, WordOut, WordTimingsOut
from reelflow.engine.errors import InputError
from reelflow.models import field_of
from reelflow.store import ProjectInput, Store
from reelflow.store.schema import Project, Upload

router = APIRouter(route_class=SafeJsonRoute, tags=["projects"])

OptionalFile = Annotated[UploadFile | None, File()]
# The spec's own bound on background files (BackgroundSpec.paths), so the two cannot drift.
MAX_BACKGROUNDS = next(
    m.max_length for m in field_of("background.paths").metadata if isinstance(m, MaxLen)
)


def given(upload: UploadFile | None) -> bool:
    """Whether a file field holds a file (browsers send an empty, nameless part for none)."""
    return upload is not None and bool(upload.filename or upload.size)


@router.post("/projects", status_code=201, response_model=ProjectOut)
async def create_project(
    user: CurrentUser,
    store: StoreDep,
    title: Annotated[str, Form(max_length=200, description="Shown in lists")],
    script: Annotated[str | None, Form(max_length=20_000, description="Text to speak")] = None,
    transcript: Annotated[str | None, Form(max_length=20_000)] = None,
    voiceover: OptionalFile = None,
    video: Annotated[
        UploadFile | None,
        File(description="Your own clip: its sound is the voice, its picture the background"),
    ] = None,
    background: Annotated[list[UploadFile] | None, File(description="Images or videos")] = None,
    music: OptionalFile = None,
    music_preset: Annotated[str | None, Form(max_length=16)] = None,
    music_upload_id: Annotated[
        str | None, Form(max_length=32, description="A track from the caller's music library")
    ] = None,
    background_type: Annotated[str | None, Form(max_length=16)] = None,
    background_colors: Annotated[list[str] | None, Form()] = None,
    style: Annotated[str | None, Form(max_length=20_000, description="JSON object")] = None,
) -> ProjectOut:
    """Create a project from a script, or a voiceover file or your own video plus its
    transcript."""
    backgrounds = [b for b in background or [] if given(b)]
    if len(backgrounds) > MAX_BACKGROUNDS:  # before any file is stored or decoded
        raise InputError(f"at most {MAX_BACKGROUNDS} files, got {len(backgrounds)}",
                         field="background")  # fmt: skip
    fields: dict[str, Any] = {"title": title, "script": script, "transcript": transcript}
    if music_preset:
        fields["music_preset"] = music_preset
    if music_upload_id and given(music):
        raise InputError("give a music file or a library track, not both", field="music")
    if music_upload_id:
        fields["music_upload_id"] = music_upload_id
    if background_type:
        fields["background_type"] = background_type
    if background_colors:
        fields["background_colors"] = [c for v in background_colors for c in v.split(",") if c]
    if style:
        fields["style"] = _json_object(style, "style")
    # Check everything cheap before decoding any upload.
    if given(video) and (given(voiceover) or backgrounds):
        raise InputError("a video is its own voice and background; send neither", field="video")
    voiced = given(voiceover) or given(video)
    _check_sources(fields, voice=voiced)
    ProjectInput.parse({**fields, "voice_upload_id": "x" if voiced else None})

    saved: list[Upload] = []
    try:
        if given(voiceover):
            saved.append(await _save(store, user.id, "voice", voiceover, "voiceover"))
            fields["voice_upload_id"] = saved[-1].id
        if given(video):
            saved.append(await _save(store, user.id, "talk", video, "video"))
            fields["voice_upload_id"] = saved[-1].id
        for i, upload in enumerate(backgrounds):
            field = "background" if len(backgrounds) == 1 else f"background.{i}"
            saved.append(await _save(store, user.id, "background", upload, field))
        fields["background_upload_ids"] = [u.id for u in saved if u.kind == "background"]
        if given(music):
            saved.append(await _save(store, user.id, "music", music, "music"))
            fields["music_upload_id"] = saved[-1].id
        project = await asyncio.to_thread(store.create_project, user.id, fields)
    except BaseException:
        await asyncio.to_thread(_forget, store, user.id, saved)
        raise
    return ProjectOut.of(project)


async def _save(store: Store, user_id: str, kind: str, upload: UploadFile, field: str) -> Upload:
    return await store.save_upload_async(
        user_id, kind, upload, filename=upload.filename, field=field
    )


def _forget(store: Store, user_id: str, uploads: list[Upload]) -> None:
    # The project was refused: its files must not linger in the user's storage.
    for upload in uploads:
        with contextlib.suppress(Exception):
            store.delete_upload(user_id, upload.id)


def _json_object(text: str, field: str) -> dict[str, Any]:
    value = safejson.loads(text, field=field)  # bounded nesting, finite numbers
    if not isinstance(value, dict):
        raise InputError("must be a JSON object", field=field)
    return value


def _check_sources(fields: dict[str, Any], *, voice: bool) -> None:
    script = (fields.get("script") or "").strip()
    transcript = (fields.get("transcript") or "").strip()
    if voice and script:
        raise InputError("give a voiceover or a script, not both", field="script")
    if not voice and not script:
        raise InputError("give a script (text to speak) or a voiceover file", field="script")
    if voice and not transcript:
        raise InputError("required with a voiceover and must not be empty", field="transcript")


@router.get("/projects", response_model=list[ProjectOut])
async def list_projects(user: CurrentUser, store: StoreDep) -> list[ProjectOut]:
    """The caller's projects, newest first."""
    projects = await asyncio.to_thread(store.list_projects, user.id)
    return [ProjectOut.of(p) for p in projects]


async def owned_project(store: Store, user_id: str, project_id: str) -> Project:
    """The caller's project, or 404 naming ``project_id`` (others' ids look missing)."""
    project = await asyncio.to_thread(store.get_project, user_id, project_id)
    if project is None:
        raise not_found("project_id", "no such project")
    return project


@router.get("/projects/{project_id}", response_model=ProjectOut)
async def get_project(project_id: str, user: CurrentUser, store: StoreDep) -> ProjectOut:
    """One of the caller's projects."""
    return ProjectOut.of(await owned_project(store, user.id, project_id))


@router.delete("/projects/{project_id}", status_code=204)
async def delete_project(project_id: str, user: CurrentUser, services: ServicesDep) -> Response:
    """Delete a project: its renders still queued, scheduled or running are cancelled, and its
    voice and background files, outputs, progress history and cache entries go with it (music
    stays in the library). 503 (nothing deleted) when Prefect cannot cancel its runs."""
    if not await delete_project_and_runs(services, user.id, project_id):
        raise not_found("project_id", "no such project")
    return Response(status_code=204)


def _timings_out(project: Project) -> WordTimingsOut:
    stored = project.word_timings or {}
    words = [WordOut(index=i, **w) for i, w in enumerate(stored.get("words") or [])]
    return WordTimingsOut(
        project_id=project.id,
        method=stored.get("method"),
        duration_s=stored.get("duration_s"),
        words=words,
        corrections=stored.get("corrections") or {},
    )


@router.get("/projects/{project_id}/word-timings", response_model=WordTimingsOut)
async def get_word_timings(project_id: str, user: CurrentUser, store: StoreDep) -> WordTimingsOut:
    """The project's latest word timings (empty until a render has timed the words)."""
    return _timings_out(await owned_project(store, user.id, project_id))


@router.patch("/projects/{project_id}/word-timings", response_model=WordTimingsOut)
async def correct_word_timings(
    project_id: str, body: CorrectionsRequest, user: CurrentUser, store: StoreDep
) -> WordTimingsOut:
    """Correct some words' times: ``{"corrections": {"3": [1.2, 1.5]}}`` (seconds)."""
    corrections = {k: list(v) for k, v in body.corrections.items()}
    result = await asyncio.to_thread(store.correct_word_timings, user.id, project_id, corrections)
    if result is None:
        raise not_found("project_id", "no such project")
    project = await owned_project(store, user.id, project_id)
    if project.word_timings is None:  # deleted in between
        raise ApiError(409, "the project's timings changed meanwhile", field="project_id")
    return _timings_out(project)
