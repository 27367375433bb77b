"""The picture's steps: background, captions, camera motion, the render pass, publishing."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from reelflow.engine.captions.ass import CaptionsFile, write_captions
from reelflow.engine.ffmpeg import atomic_output, probe
from reelflow.engine.music.analysis import MusicAnalysis
from reelflow.engine.render import graph
from reelflow.engine.render.background import Background, plan_cuts
from reelflow.engine.render.effects import CameraMotion, plan_camera
from reelflow.engine.render.mix import MixPlan
from reelflow.engine.render.overlays import TitleCard
from reelflow.engine.render.reframe import FaceTrack
from reelflow.engine.render.reframe import track_face as find_face_path
from reelflow.engine.render.talk import TalkVideo
from reelflow.engine.speech.pauses import Cuts
from reelflow.engine.timing import WordTimings
from reelflow.models import BackgroundSpec, CaptionSpec, EffectsSpec, TitleSpec
from reelflow.presets import ASPECT_PRESETS, PLATFORM_PRESETS, QUALITY_PRESETS
from reelflow.tasks.step import step


@step("prepare-background")
def prepare_background(
    *, spec: BackgroundSpec, beats: MusicAnalysis | None = None, mix: MixPlan | None = None
) -> Background:
    """The engine's description of the background (its files keyed by their bytes), with
    several files cut on the music's bar downbeats as they fall in the reel.

    Its files were probed by `check-inputs`, which every run of the DAG starts with; probing
    them again here cost a second ffmpeg pass per file on the reel's busiest second.
    """
    files = tuple(spec.files)
    cuts: tuple[float, ...] = ()
    if len(files) > 1 and mix is not None:
        shift = mix.music_start_s
        downbeats = tuple(b - shift for b in beats.strong_beat_times_s) if beats else ()
        cuts = plan_cuts(len(files), mix.duration_s, downbeats)
    return Background(kind=spec.type, colors=tuple(spec.colors), files=files,
                      transition=spec.transition, cuts_s=cuts)  # fmt: skip


@step("track-face")
def track_face(*, video: Path) -> FaceTrack | None:
    """The speaker's face path through the user's clip (None: no face, crop the centre)."""
    return find_face_path(video)


@step("build-captions")
def build_captions(
    *,
    words: WordTimings,
    spec: CaptionSpec,
    quality: str,
    platform: str,
    aspect: str,
    duration_s: float,
    cuts: Cuts | None = None,
    out_dir: Path,
    language: str | None = None,
) -> CaptionsFile:
    """Write the animated ASS captions for the output size and the platform's safe zone, both
    in the reel's aspect; the result names any character no bundled font can draw (left out,
    never a box)."""
    width, height = ASPECT_PRESETS[aspect].size(QUALITY_PRESETS[quality])
    return write_captions(
        cuts.map_words(words) if cuts is not None else words,
        spec.to_style(),
        out_dir / "captions.ass",
        width=width,
        height=height,
        safe_zone=PLATFORM_PRESETS[platform].safe_zone_for(aspect),
        duration_s=duration_s,
        language=language,
    )


@step("plan-effects")
def plan_effects(*, spec: EffectsSpec, beats: MusicAnalysis | None, mix: MixPlan) -> CameraMotion:
    """Camera motion from the preset, on the beats and peaks as they fall in the reel."""
    beat_times: list[float] = []
    peaks: list[float] = []
    if beats is not None:
        shift = mix.music_start_s
        beat_times = [b - shift for b in beats.beat_times_s]
        peaks = [p - shift for p in beats.energy_peak_times_s]
    return plan_camera(spec.to_preset(), duration_s=mix.duration_s, beat_times_s=beat_times,
                       peak_times_s=peaks)  # fmt: skip


@step("render-reel")
def render_reel(
    *,
    mix: MixPlan,
    background: Background,
    camera: CameraMotion,
    captions: Path | None,
    quality: str,
    platform: str,
    aspect: str,
    title: TitleSpec | None = None,
    progress_bar_colour: str | None = None,
    encoder: str,
    allow_gpu: bool,
    max_file_size_mb: float | None,
    threads: int = 0,
    timeout_s: float | None = None,
    on_progress: Callable[[float], None] | None = None,
    video: Path | None = None,
    face: FaceTrack | None = None,
    cuts: Cuts | None = None,
    out_dir: Path,
) -> graph.RenderResult:
    """The single ffmpeg pass that produces the MP4 and its poster.

    With the user's own `video`, its picture (reframed on the `face` path, cut by the voice's
    `cuts`) is the background."""
    talk = None
    if video is not None:
        info = probe(video, field="video").video
        talk = TalkVideo(video, info.width, info.height, track=face, cuts=cuts)
    job = graph.RenderJob(
        mix=mix,
        background=background,
        camera=camera,
        quality=QUALITY_PRESETS[quality],
        platform=PLATFORM_PRESETS[platform],
        aspect=ASPECT_PRESETS[aspect],
        title=TitleCard(title.text, title.duration_s) if title is not None else None,
        progress_bar_colour=progress_bar_colour,
        captions_path=captions,
        encoder=encoder,
        allow_gpu=allow_gpu,
        max_file_size_mb=max_file_size_mb,
        threads=threads,
        timeout_s=timeout_s,
        talk=talk,
    )
    return graph.render(job, out_dir / "reel.mp4", on_progress=on_progress)


@step("publish", cached=False)
def publish(*, result: graph.RenderResult, target: Path, replace: bool = True) -> dict[str, str]:
    """Put the video and its poster at `target` (and beside it), each atomically.

    Without `replace`, a file already at the destination is kept: another attempt of the same
    run got there first, with the same content, and a finished output is never rewritten.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    poster = target.with_suffix(".jpg")
    for source, destination in ((result.video_path, target), (result.poster_path, poster)):
        if replace:
            with atomic_output(destination) as tmp:
                _place(source, tmp)
        else:
            _place_once(source, destination)
    return {"video": str(target), "poster": str(poster)}


def _place(source: Path, destination: Path) -> None:
    try:
        os.link(source, destination)  # same disk: instant, and the cache copy stays intact
    except OSError:
        shutil.copy2(source, destination)


def _place_once(source: Path, destination: Path) -> None:
    """Put `source` at `destination` unless something is there already (atomically: link()
    refuses an existing name, so whoever is first keeps the place)."""
    if destination.exists():
        return
    tmp = destination.with_name(f".{destination.name}.{uuid.uuid4().hex[:12]}")
    try:
        _place(source, tmp)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
