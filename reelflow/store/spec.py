"""A project plus one render's settings -> the `ReelSpec` the pipeline renders.

Files are given as absolute paths inside the uploads folder. A render setting replaces the
project's choice wholesale: picking another caption animation drops the settings tuned for the
old one, picking another effects preset drops the old preset's overrides, picking a music preset
drops the project's own track (``custom`` keeps it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reelflow.engine.errors import InputError
from reelflow.models import ReelSpec, parse_spec
from reelflow.store.inputs import ProjectStyle, RenderSettings
from reelflow.store.schema import Project, Upload


def upload_path(uploads_dir: Path, upload: Upload) -> Path:
    """Absolute path of a stored upload; refuses a stored path that would leave the folder."""
    root = uploads_dir.resolve()
    path = (root / upload.path).resolve()
    if not path.is_relative_to(root):  # stored paths are generated; this is defence in depth
        raise ValueError(f"upload {upload.id} points outside the uploads folder")
    return path


def build_spec(
    project: Project,
    *,
    uploads_dir: Path,
    settings: RenderSettings | Mapping[str, Any] | None = None,
) -> ReelSpec:
    """The render spec of `project` with `settings` applied; `InputError` if it is not valid."""
    render = RenderSettings.parse(settings)
    style = ProjectStyle.parse(project.style or {})

    def path(upload: Upload | None) -> str | None:
        return str(upload_path(uploads_dir, upload)) if upload is not None else None

    talk = project.voice is not None and project.voice.media == "video"
    data: dict[str, Any] = {
        "voiceover": None if talk else path(project.voice),
        "video": path(project.voice) if talk else None,
        "script": project.script,
        "transcript": project.transcript,
        "background": None
        if talk
        else {**_background(project, path), **style.background.model_dump()},
        "music": _music(project, style, render, path),
        "captions": _captions(style, render),
        "effects": (
            {"preset": render.effects_preset}
            if render.effects_preset and render.effects_preset != style.effects.preset
            else style.effects.model_dump(exclude_none=True)
        ),
        "quality": render.quality or style.quality,
        # several aspects replace the one (giving both is refused unless they agree)
        "aspect": style.aspect if style.aspects is None else None,
        "aspects": style.aspects,
        "platform": render.platform or style.platform,
        "title": style.title.model_dump() if style.title is not None else None,
        "progress_bar": style.progress_bar,
        "voice": style.voice,
        "language": style.language,
        "speaking_rate_wpm": style.speaking_rate_wpm,
        "word_timings": _timings(project),
        "trim_pauses_over_s": (
            render.trim_pauses_over_s
            if render.trim_pauses_over_s is not None
            else (style.trim_pauses_over_s if project.voice is not None else None)
        ),
    }
    return parse_spec({k: v for k, v in data.items() if v is not None})


def _timings(project: Project) -> dict[str, Any] | None:
    """The project's latest (possibly corrected) timings: the render uses them as they are."""
    timings = project.timings
    if timings is None:
        return None
    words = [
        {"word": w.word, "start": w.start_s, "end": w.end_s, "confidence": w.confidence}
        for w in timings.words
    ]
    return {"method": timings.method, "words": words}


def _background(project: Project, path) -> dict[str, Any]:
    uploads = project.background_uploads
    if uploads:
        return {"type": uploads[0].media, "paths": [path(u) for u in uploads]}
    if project.background_colors:
        return {"type": project.background_type, "colors": list(project.background_colors)}
    if project.background_type == "color":
        return {"type": "color", "colors": ["#000000"]}
    return {"type": "gradient"}  # the spec's default colours


def _music(project: Project, style: ProjectStyle, render: RenderSettings, path) -> dict[str, Any]:
    music: dict[str, Any] = {
        "preset": project.music_preset,
        "file": path(project.music_upload),
        "volume": style.music_volume if render.music_volume is None else render.music_volume,
        "auto_duck": style.auto_duck if render.auto_duck is None else render.auto_duck,
    }
    if render.music_preset == "custom":
        if project.music_upload is None:
            raise InputError("this project has no uploaded music track", field="music_preset")
    elif render.music_preset is not None:
        music.update(preset=render.music_preset, file=None)
    return {k: v for k, v in music.items() if v is not None}


def _captions(style: ProjectStyle, render: RenderSettings) -> dict[str, Any]:
    captions = style.captions.model_dump()
    animation = render.subtitle_animation or style.captions.animation
    if animation != style.captions.animation:
        captions.update(animation=animation, settings={})
    if render.wave_settings and animation == "wave":
        captions["settings"] = {**captions["settings"], **render.wave_settings}
    return captions
