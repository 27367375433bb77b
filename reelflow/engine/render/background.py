"""The reel's background as an ffmpeg-python video stream: colour, gradient, images or videos.

Images and videos are centre-cropped to the output's aspect; a still image is decoded and
scaled once and then looped as a frame; several files are played in order and the sequence
repeats to fill the reel.
Streams come out at the reel's frame rate, exact duration and aspect, but not necessarily at the
output size: the camera step (``zoompan``) or a final ``scale`` brings them there, so a gradient
can be drawn at a quarter of the size and a video keeps its own pixels until the one scale.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import ffmpeg as ffm

from reelflow.engine import ffmpeg
from reelflow.engine.errors import InputError
from reelflow.presets import BACKGROUND_TRANSITIONS, BackgroundKind, BackgroundTransition

MAX_SEQUENCE_INPUTS = 24
TRANSITION_S = 0.4  # at most; shorter when a clip's slot is short
KEN_BURNS_ZOOM = 0.12  # how much closer an image gets over its slot
KEN_BURNS_OVERSCAN = 1.25  # images are scaled this much larger first, so zooming stays sharp
GRADIENT_SPEED = 0.02  # the gradients source's drift: visibly moving, never hurried
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class Background:
    """What the reel is drawn on."""

    kind: BackgroundKind
    colors: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()
    transition: BackgroundTransition = "cut"
    ken_burns: bool = True  # images move slowly (off only to isolate the camera's own motion)
    # Reel times where file k+1 takes over, one per file after the first (else even slots).
    cuts_s: tuple[float, ...] = ()


def plan_cuts(
    n_files: int, duration_s: float, downbeats_s: tuple[float, ...] = ()
) -> tuple[float, ...]:
    """Where each of `n_files` background files gives way to the next: evenly spread over
    `duration_s`, each moved to the nearest downbeat (reel time) that keeps every slot at
    least half its even share."""
    if n_files < 2 or duration_s <= 0:
        return ()
    share = duration_s / n_files
    cuts: list[float] = []
    for k in range(1, n_files):
        target = k * share
        previous = cuts[-1] if cuts else 0.0
        low, high = previous + share / 2, duration_s - (n_files - k) * share / 2
        near = [b for b in downbeats_s if low <= b <= high]
        cuts.append(min(near, key=lambda b: abs(b - target)) if near else max(target, low))
    return tuple(round(c, 3) for c in cuts)


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
    if bg.kind == "image" or bg.cuts_s:
        return _sequence(bg, width=width, height=height, fps=fps, duration_s=duration_s)
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
            # Corner to corner, drifting: random end points (the default) give hard bands.
            "x0=0",
            "y0=0",
            f"x1={width // 4}",
            f"y1={height // 4}",
            f"speed={GRADIENT_SPEED}",
            # a fixed seed: the source starts its drift at a random phase otherwise, and a
            # reel must be a pure function of its inputs
            "seed=1",
            "type=linear",
        ]
    )
    return _to_yuv(ffm.input(f"gradients={spec}", f="lavfi").video)


def _sequence(bg: Background, *, width, height, fps, duration_s):
    """One slot per file (bounded by `bg.cuts_s`, else even), joined by the transition: each
    clip but the last runs on for the transition's length under the next one."""
    files = bg.files
    cuts = bg.cuts_s if len(bg.cuts_s) == len(files) - 1 else plan_cuts(len(files), duration_s)
    bounds = (0.0, *cuts, duration_s)
    xfade = BACKGROUND_TRANSITIONS[bg.transition].xfade
    shortest = min(b - a for a, b in itertools.pairwise(bounds))
    overlap = min(TRANSITION_S, shortest / 3) if xfade and len(files) > 1 else 0.0
    clips = []
    for k, path in enumerate(files):
        length = bounds[k + 1] - bounds[k] + (overlap if k < len(files) - 1 else 0.0)
        make = _ken_burns if bg.kind == "image" else _video_clip
        clips.append(make(path, k, width=width, height=height, fps=fps, length_s=length,
                          move=bg.ken_burns))  # fmt: skip
    if overlap <= 0:
        return _concat(clips, fps=fps, duration_s=duration_s)
    joined = clips[0]
    for k, clip in enumerate(clips[1:], start=1):
        # The accumulated stream is bounds[k] + overlap long: the transition starts on the cut.
        joined = ffm.filter([joined, clip], "xfade", transition=xfade,
                            duration=f"{overlap:.3f}", offset=f"{bounds[k]:.3f}")  # fmt: skip
    return joined.filter("trim", duration=f"{duration_s:.3f}").filter("fps", fps)


def _ken_burns(path, index, *, width, height, fps, length_s, move=True):
    """A still that slowly zooms (in on even slots, out on odd ones) and drifts sideways."""
    overscan = KEN_BURNS_OVERSCAN if move else 1.0
    big_w, big_h = (2 * round(side * overscan / 2) for side in (width, height))
    still = (
        ffm.input(os.fspath(path)).video.filter("trim", end_frame=1)
        .filter("scale", big_w, big_h, force_original_aspect_ratio="increase")
        .filter("crop", big_w, big_h)
        .filter("setsar", 1)
    )  # fmt: skip
    frames = max(1, round(length_s * fps))
    if not move:
        still = _to_yuv(still).filter("loop", loop=-1, size=1, start=0)
        return still.filter("setpts", f"N/({fps}*TB)").filter("trim", duration=f"{length_s:.3f}")
    progress = f"min(on/{frames},1)"
    zoom = (f"{1 + KEN_BURNS_ZOOM:.3f}-{KEN_BURNS_ZOOM}*{progress}" if index % 2
            else f"1+{KEN_BURNS_ZOOM}*{progress}")  # fmt: skip
    drift = f"(0.35+0.3*{progress})" if index % 2 == 0 else f"(0.65-0.3*{progress})"
    moving = (
        _to_yuv(still).filter("loop", loop=-1, size=1, start=0)
        .filter("setpts", f"N/({fps}*TB)")
        .filter("trim", end_frame=frames)
        .filter("zoompan", z=zoom, x=f"(iw-iw/zoom)*{drift}", y="(ih-ih/zoom)/2", d=1,
                s=f"{width}x{height}", fps=fps)
        .filter("setsar", 1)
    )  # fmt: skip
    return moving.filter("trim", duration=f"{length_s:.3f}").filter("setpts", "PTS-STARTPTS")


def _video_clip(path, index, *, width, height, fps, length_s, move=True):
    """A clip looped to `length_s`, centre-cropped and scaled to the output."""
    crop = (f"min(iw,ih*{width}/{height})", f"min(ih,iw*{height}/{width})")
    clip = ffm.input(os.fspath(path), stream_loop=-1, t=f"{length_s:.3f}").video
    return (
        clip.filter("setpts", "PTS-STARTPTS")
        .filter("fps", fps)
        .filter("crop", *crop)
        .filter("scale", width, height)
        .filter("setsar", 1)
        .filter("format", "yuv420p")
    )


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
