"""A project plus one render's settings -> the `ReelSpec` the pipeline renders.

Files are given as absolute paths inside the uploads folder. A render setting replaces the
project's choice wholesale: picking another caption animation drops the settings tuned for the
old one, picking another effects preset drops the old preset's overrides, picking a music preset
drops the project's own track (``custom`` keeps it), picking another caption look drops the
project's caption tuning (its font stays).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from reelflow.engine.errors import InputError
from reelflow.engine.speech.voices import check_installed
from reelflow.models import CaptionSpec, ReelSpec, parse_spec
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
        else {
            **_background(project, path),
            "transition": render.background_transition or style.background.transition,
        },
        "music": _music(project, style, render, path),
        "captions": _captions(style, render),
        "effects": (
            {"preset": render.effects_preset}
            if render.effects_preset and render.effects_preset != style.effects.preset
            else style.effects.model_dump(exclude_none=True)
        ),
        "quality": render.quality or style.quality,
        **_aspects(style, render),
        "platform": render.platform or style.platform,
        "title": _dump(render.title or style.title),
        "progress_bar": style.progress_bar if render.progress_bar is None else render.progress_bar,
        "voice": render.voice or style.voice,
        "language": style.language,
        "speaking_rate_wpm": style.speaking_rate_wpm,
        # the project's timings were spoken by its own voice; another one times its words anew
        "word_timings": None if _new_voice(project, style, render) else _timings(project),
        "trim_pauses_over_s": (
            render.trim_pauses_over_s
            if render.trim_pauses_over_s is not None
            else (style.trim_pauses_over_s if project.voice is not None else None)
        ),
    }
    spec = parse_spec({k: v for k, v in data.items() if v is not None})
    if render.voice is not None and project.voice is None:
        check_installed(render.voice)  # refused now, not when the run starts speaking
    return spec


def _aspects(style: ProjectStyle, render: RenderSettings) -> dict[str, Any]:
    """The render's aspect or aspects replace the project's (giving both is refused by the
    spec unless they agree); a stored style holds the default aspect beside its aspects."""
    if render.aspect is None and render.aspects is None:
        return {"aspects": style.aspects} if style.aspects is not None else {"aspect": style.aspect}
    return {"aspect": render.aspect, "aspects": render.aspects}


def _new_voice(project: Project, style: ProjectStyle, render: RenderSettings) -> bool:
    """Whether this render speaks the project's script in another voice than its own."""
    return project.voice is None and render.voice is not None and render.voice != style.voice


def _dump(part: BaseModel | None) -> dict[str, Any] | None:
    return part.model_dump() if part is not None else None


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
    base = style.captions
    if render.caption_style is not None and render.caption_style != base.style:
        # another look wholesale: the project's tuning was made for its own look (the font,
        # which no look decides, stays)
        base = CaptionSpec(style=render.caption_style, font=base.font)
    captions = base.model_dump()
    animation = render.subtitle_animation or base.animation
    if animation != base.animation:
        captions.update(animation=animation, settings={})
    if render.wave_settings and animation == "wave":
        captions["settings"] = {**captions["settings"], **render.wave_settings}
    if render.emphasis is not None:
        captions["emphasis"] = render.emphasis
    return captions
