"""The reel's background as an ffmpeg-python video stream: colour, gradient, images or videos.

Images and videos are centre-cropped to the output's aspect; a still image is decoded and
scaled once and then looped as a frame; several files are played in order and the sequence
repeats to fill the reel.
Streams come out at the reel's frame rate, exact duration and aspect, but not necessarily at the
output size: the camera step (``zoompan``) or a final ``scale`` brings them there, so a gradient
can be drawn at a quarter of the size and a video keeps its own pixels until the one scale.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import ffmpeg as ffm

from reelflow.engine import ffmpeg
from reelflow.engine.errors import InputError
from reelflow.presets import BackgroundKind

MAX_SEQUENCE_INPUTS = 24
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class Background:
    """What the reel is drawn on."""

    kind: BackgroundKind
    colors: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()


def check_background(bg: Background) -> None:
    """Raise `InputError` naming the field if a background file is missing or of the wrong kind."""
    for i, path in enumerate(bg.files):
        field = f"background.paths.{i}" if len(bg.files) > 1 else "background.path"
        info = ffmpeg.probe(path, field=field)
        if info.video is None:
            raise InputError(f"{Path(path).name} has no picture", field=field)
        if bg.kind == "video" and info.is_still_image:
            raise InputError(f"{Path(path).name} is a still image; use type: image", field=field)


def background_stream(bg: Background, *, width: int, height: int, fps: int, duration_s: float):
    """A `width`:`height` video stream of `duration_s` at `fps` frames per second."""
    if bg.kind == "color":
        colour = bg.colors[0].lstrip("#")
        source = f"color=c=0x{colour}:s={width}x{height}:r={fps}:d={duration_s:.3f}"
        return ffm.input(source, f="lavfi").video.filter("format", "yuv420p")
    if bg.kind == "gradient":
        return _gradient(bg.colors, width=width, height=height, fps=fps, duration_s=duration_s)
    if bg.kind == "image":
        return _images(bg.files, width=width, height=height, fps=fps, duration_s=duration_s)
    return _videos(bg.files, width=width, height=height, fps=fps, duration_s=duration_s)


def _to_yuv(stream):
    # RGB sources are converted with the BT.709 matrix the output is tagged with.
    return stream.filter("scale", out_color_matrix="bt709", out_range="tv").filter(
        "format", "yuv420p"
    )


def _gradient(colors, *, width, height, fps, duration_s):
    # Gradients are smooth: drawing them at a quarter of the size and scaling up costs ~5 % of
    # drawing them at full size and looks the same.
    stops = [f"c{i}=0x{c.lstrip('#')}" for i, c in enumerate(colors[:8])]
    spec = ":".join(
        [
            f"s={width // 4}x{height // 4}",
            f"r={fps}",
            f"d={duration_s:.3f}",
            f"n={len(stops)}",
            *stops,
            # Corner to corner, turning slowly: random end points (the default) give hard bands.
            "x0=0",
            "y0=0",
            f"x1={width // 4}",
            f"y1={height // 4}",
            "speed=0.002",
            "type=linear",
        ]
    )
    return _to_yuv(ffm.input(f"gradients={spec}", f="lavfi").video)


def _images(files, *, width, height, fps, duration_s):
    slot_s = duration_s / len(files)
    clips = []
    for path in files:
        still = (
            ffm.input(os.fspath(path)).video.filter("trim", end_frame=1)
            .filter("scale", width, height, force_original_aspect_ratio="increase")
            .filter("crop", width, height)
            .filter("setsar", 1)
        )  # fmt: skip
        still = _to_yuv(still).filter("loop", loop=-1, size=1, start=0)
        clips.append(
            still.filter("setpts", f"N/({fps}*TB)")
            .filter("fps", fps)
            .filter("trim", duration=f"{slot_s:.3f}")
        )
    return _concat(clips, fps=fps, duration_s=duration_s)


def _videos(files, *, width, height, fps, duration_s):
    # Centre crop to the output's shape, at the source's own resolution.
    crop = (f"min(iw,ih*{width}/{height})", f"min(ih,iw*{height}/{width})")
    if len(files) == 1:
        # One clip: loop it at the demuxer and leave scaling to the camera step or final scale.
        clip = ffm.input(os.fspath(files[0]), stream_loop=-1, t=f"{duration_s:.3f}").video
        return (
            clip.filter("setpts", "PTS-STARTPTS")
            .filter("fps", fps)
            .filter("crop", *crop)
            .filter("setsar", 1)
        )
    clips, covered = [], 0.0
    durations = [ffmpeg.probe(p).duration_s for p in files]
    while covered < duration_s - 1e-3 and len(clips) < MAX_SEQUENCE_INPUTS:
        for path, length in zip(files, durations, strict=True):
            take = min(length, duration_s - covered)
            if take <= 1e-3:
                break
            clip = ffm.input(os.fspath(path), t=f"{take:.3f}").video
            clips.append(
                clip.filter("setpts", "PTS-STARTPTS")
                .filter("fps", fps)
                .filter("crop", *crop)
                .filter("scale", width, height)
                .filter("setsar", 1)
                .filter("format", "yuv420p")
            )
            covered += take
    return _concat(clips, fps=fps, duration_s=duration_s)


def _concat(clips, *, fps, duration_s):
    joined = clips[0] if len(clips) == 1 else ffm.concat(*clips, v=1, a=0)
    # Pad with the last frame if the clips fall short (e.g. the input cap was reached).
    return (
        joined.filter("tpad", stop=-1, stop_mode="clone")
        .filter("trim", duration=f"{duration_s:.3f}")
        .filter("fps", fps)
    )
