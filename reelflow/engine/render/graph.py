"""One ffmpeg process, one filter graph: background, camera motion, captions, encode.

The background is decoded once (a still image is scaled once and then looped as a frame, never
re-decoded), moved by ``zoompan`` on its own pixels, captioned by libass with the bundled fonts,
and encoded to H.264 High / yuv420p / BT.709 with ``+faststart``; the finished audio mix (written
by `mix.plan_mix`) is encoded to AAC 48 kHz stereo beside it. The poster JPEG is one frame decoded
from the finished file. Outputs appear atomically or not at all.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import ffmpeg as ffm

from reelflow.engine import ffmpeg
from reelflow.engine.captions.fonts import fonts_dir
from reelflow.engine.errors import InputError, MediaError
from reelflow.engine.render.background import Background, background_stream
from reelflow.engine.render.effects import CameraMotion, zoompan_args
from reelflow.engine.render.encoding import EncoderChoice, choose_encoder, video_codec_args
from reelflow.engine.render.mix import MixPlan
from reelflow.engine.render.overlays import TitleCard, progress_bar, write_title
from reelflow.engine.render.talk import TalkVideo, talk_stream
from reelflow.presets import (
    ASPECT_PRESETS,
    AspectPreset,
    EncoderName,
    PlatformPreset,
    QualityPreset,
)

MAX_SIZE_ATTEMPTS = 3


@dataclass(frozen=True)
class RenderJob:
    """Everything one render needs, already planned by the earlier steps."""

    mix: MixPlan
    background: Background
    camera: CameraMotion
    quality: QualityPreset
    platform: PlatformPreset
    captions_path: Path | None = None
    aspect: AspectPreset = ASPECT_PRESETS["9:16"]
    title: TitleCard | None = None
    progress_bar_colour: str | None = None  # #RRGGBB; None: no progress bar
    encoder: EncoderName = "auto"
    allow_gpu: bool = True
    max_file_size_mb: float | None = None
    poster_time_s: float | None = None
    threads: int = 0
    timeout_s: float | None = None  # of the ffmpeg pass; default scales with the duration
    talk: TalkVideo | None = None  # the user's own clip: its picture replaces the background

    @property
    def duration_s(self) -> float:
        return self.mix.duration_s

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the output: the quality's size in the job's aspect."""
        return self.aspect.size(self.quality)

    @property
    def size_cap_bytes(self) -> int:
        cap_mb = self.platform.max_file_size_mb
        if self.max_file_size_mb is not None:
            cap_mb = min(cap_mb, self.max_file_size_mb)
        return int(cap_mb * 1_000_000)


@dataclass(frozen=True)
class RenderResult:
    """What the render produced and how."""

    video_path: Path
    poster_path: Path
    encoder: str
    duration_s: float
    size_bytes: int
    video_kbps_cap: int | None  # None: the size cap could not bind, the encode ran uncapped
    attempts: int


def render(
    job: RenderJob,
    out_path: Path,
    *,
    poster_path: Path | None = None,
    on_progress: ffmpeg.ProgressCallback | None = None,
) -> RenderResult:
    """Render `job` to `out_path` (MP4) and a poster JPEG beside it.

    When the size cap (the platform's, or the job's) could bind, the video bitrate is capped
    from the start; otherwise the encode runs uncapped (VBV costs ~7 % of the encode) and the
    size is checked afterwards. An encode that still comes out too big is redone with a
    proportionally lower cap. With encoder ``auto`` a failed NVENC encode falls back to libx264.
    """
    out_path = Path(out_path)
    poster_path = Path(poster_path) if poster_path else out_path.with_suffix(".jpg")
    choice = choose_encoder(job.encoder, allow_gpu=job.allow_gpu)
    title_path = None
    if job.title is not None:
        width, height = job.size
        title_path = write_title(
            job.title, out_path.with_name(f"{out_path.stem}-title.ass"), width=width,
            height=height, safe_zone=job.platform.safe_zone_for(job.aspect.name),
            reel_s=job.duration_s,
        )  # fmt: skip
    budget_kbps = initial_video_kbps(job)
    video_kbps = budget_kbps if budget_kbps < job.quality.max_video_kbps else None
    attempts = 0
    while True:
        attempts += 1
        try:
            size = _encode_once(
                job, choice, video_kbps, out_path, poster_path, on_progress, title_path
            )
        except MediaError:
            if choice.codec == "libx264" or job.encoder != "auto":
                raise
            choice = choose_encoder("libx264", allow_gpu=False)  # GPU fell over: CPU fallback
            continue
        if size <= job.size_cap_bytes:
            break
        if attempts >= MAX_SIZE_ATTEMPTS:
            out_path.unlink(missing_ok=True)
            raise MediaError(
                f"could not fit {job.duration_s:.1f} s into {job.size_cap_bytes / 1e6:.1f} MB "
                f"after {attempts} attempts"
            )
        current_kbps = video_kbps or (size * 8 / 1000 / job.duration_s)
        video_kbps = max(50, int(current_kbps * job.size_cap_bytes / size * 0.9))
    return RenderResult(
        video_path=out_path,
        poster_path=poster_path,
        encoder=choice.codec,
        duration_s=job.duration_s,
        size_bytes=out_path.stat().st_size,
        video_kbps_cap=video_kbps,
        attempts=attempts,
    )


def initial_video_kbps(job: RenderJob) -> int:
    """Highest video bitrate that keeps the file under the size cap (and the quality's ceiling)."""
    # 3 % for container overhead; the audio bitrate is constant.
    budget_kbps = job.size_cap_bytes * 8 / 1000 * 0.97 / job.duration_s - job.quality.audio_kbps
    if budget_kbps < 100:
        needed_mb = (100 + job.quality.audio_kbps) * job.duration_s / 8 / 1000 / 0.97
        raise InputError(
            f"{job.size_cap_bytes / 1e6:g} MB is too small for a {job.duration_s:.1f} s reel "
            f"(needs at least {needed_mb:.1f} MB)",
            field="max_file_size_mb",
        )
    return int(min(job.quality.max_video_kbps, budget_kbps))


def _encode_once(
    job: RenderJob,
    choice: EncoderChoice,
    video_kbps: int | None,
    out_path: Path,
    poster_path: Path,
    on_progress: ffmpeg.ProgressCallback | None,
    title_path: Path | None = None,
) -> int:
    with ffmpeg.atomic_output(out_path) as tmp_video, ffmpeg.atomic_output(poster_path) as tmp_jpg:
        ffmpeg.run(
            build_command(job, choice, video_kbps, tmp_video, title_path=title_path),
            duration_s=job.duration_s,
            on_progress=on_progress,
            timeout_s=job.timeout_s or max(600.0, job.duration_s * 60),
        )
        extract_poster(tmp_video, tmp_jpg, at_s=_poster_time(job))
        size = tmp_video.stat().st_size
    return size


def extract_poster(video: Path, poster: Path, *, at_s: float) -> None:
    """Decode one frame of the finished video into a JPEG (a seek and one frame: ~0.1 s).

    Done after the encode rather than as a second output of the render: splitting the
    render's picture for a poster branch cost ~7 % of the render's wall time here.
    """
    ffmpeg.run(
        ["-loglevel", "error", "-ss", f"{at_s:.3f}", "-i", os.fspath(video),
         "-frames:v", "1", "-q:v", "3", "-update", "1", "-f", "image2", os.fspath(poster)],
        timeout_s=60,
    )  # fmt: skip


def build_command(
    job: RenderJob,
    choice: EncoderChoice,
    video_kbps: int | None,
    video_out: Path,
    *,
    title_path: Path | None = None,
) -> list[str]:
    """The ffmpeg arguments (without the binary) of the single render pass."""
    q = job.quality
    width, height = job.size
    if job.talk is not None:
        video = talk_stream(job.talk, width=width, height=height, fps=q.fps,
                            duration_s=job.duration_s)  # fmt: skip
    else:
        video = background_stream(job.background, width=width, height=height, fps=q.fps,
                                  duration_s=job.duration_s)  # fmt: skip
    if job.camera.is_static or job.background.kind == "color":
        video = video.filter("scale", width, height)
    else:
        motion = zoompan_args(job.camera, width=width, height=height, fps=q.fps)
        video = video.filter("zoompan", **motion)
    if job.captions_path is not None:
        video = video.filter(
            "ass", filename=os.fspath(job.captions_path), fontsdir=os.fspath(fonts_dir())
        )
    if title_path is not None:  # over the captions: the hook is read first
        video = video.filter("ass", filename=os.fspath(title_path), fontsdir=os.fspath(fonts_dir()))
    if job.progress_bar_colour is not None:
        video = progress_bar(video, colour=job.progress_bar_colour, width=width, height=height,
                             fps=q.fps, duration_s=job.duration_s)  # fmt: skip
    video = video.filter(
        "setparams", color_primaries="bt709", color_trc="bt709", colorspace="bt709", range="tv"
    ).filter("format", "yuv420p")
    if job.mix.mixed_path is None:
        raise ValueError("the mix plan has no mixed audio: plan it with mix.plan_mix")
    audio = ffm.input(os.fspath(job.mix.mixed_path)).audio
    duration = f"{job.duration_s:.3f}"
    video_output = ffm.output(
        video,
        audio,
        os.fspath(video_out),
        t=duration,
        format="mp4",
        movflags="+faststart",
        acodec="aac",
        audio_bitrate=f"{q.audio_kbps}k",
        ar=48_000,
        ac=2,
        threads=job.threads,
        **video_codec_args(choice, q, video_kbps),
    )
    return video_output.get_args()


def _poster_time(job: RenderJob) -> float:
    if job.poster_time_s is not None:
        return min(max(0.0, job.poster_time_s), job.duration_s - 1 / job.quality.fps)
    # A third of the way in: past the intro, usually on a caption.
    return max(0.0, min(job.duration_s / 3, job.duration_s - 1 / job.quality.fps))


def expected_frames(job: RenderJob) -> int:
    """How many video frames the render writes."""
    return math.ceil(job.duration_s * job.quality.fps - 1e-6)
