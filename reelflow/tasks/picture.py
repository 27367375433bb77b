"""The picture's steps: background, captions, camera motion, the render pass, publishing."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from reelflow.engine.captions.ass import write_captions
from reelflow.engine.ffmpeg import atomic_output, probe
from reelflow.engine.music.analysis import MusicAnalysis
from reelflow.engine.render import graph
from reelflow.engine.render.background import Background
from reelflow.engine.render.effects import CameraMotion, plan_camera
from reelflow.engine.render.mix import MixPlan
from reelflow.engine.render.reframe import FaceTrack
from reelflow.engine.render.reframe import track_face as find_face_path
from reelflow.engine.render.talk import TalkVideo
from reelflow.engine.speech.pauses import Cuts
from reelflow.engine.timing import WordTimings
from reelflow.models import BackgroundSpec, CaptionSpec, EffectsSpec
from reelflow.presets import PLATFORM_PRESETS, QUALITY_PRESETS
from reelflow.tasks.step import step


@step("prepare-background")
def prepare_background(*, spec: BackgroundSpec) -> Background:
    """The engine's description of the background (its files keyed by their bytes).

    Its files were probed by `check-inputs`, which every run of the DAG starts with; probing
    them again here cost a second ffmpeg pass per file on the reel's busiest second.
    """
    return Background(kind=spec.type, colors=tuple(spec.colors), files=tuple(spec.files))


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
    duration_s: float,
    cuts: Cuts | None = None,
    out_dir: Path,
) -> Path:
    """Write the animated ASS captions for the output size and the platform's safe zone.

    `words` are timed on the voice's own timeline; `cuts` (pause trimming) move them onto the
    shortened one the reel plays."""
    q = QUALITY_PRESETS[quality]
    return write_captions(
        cuts.map_words(words) if cuts is not None else words,
        spec.to_style(),
        out_dir / "captions.ass",
        width=q.width,
        height=q.height,
        safe_zone=PLATFORM_PRESETS[platform].safe_zone,
        duration_s=duration_s,
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
