"""A talking-head clip as the reel's picture: reframed to the output on the speaker's face, and
cut with the voice when its pauses were trimmed, inside the one render graph."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import ffmpeg as ffm

from reelflow.engine.render.reframe import FaceTrack, crop_args
from reelflow.engine.speech.pauses import Cuts


@dataclass(frozen=True)
class TalkVideo:
    """The user's clip: its picture size, the face path found in it, the voice's cuts."""

    path: Path
    width: int
    height: int
    track: FaceTrack | None = None
    cuts: Cuts | None = None


def keep_expr(cuts: Cuts, fps: int) -> str:
    """``select`` expression keeping the frames of the kept parts (boundaries on the frame
    grid, so exactly the frames of the kept audio; the half-frame margin absorbs rounding)."""
    half = 0.5 / fps
    return "+".join(
        f"gte(t,{seg.start_s - half:.6f})*lt(t,{seg.end_s - half:.6f})" for seg in cuts.kept
    )


def talk_stream(talk: TalkVideo, *, width: int, height: int, fps: int, duration_s: float):
    """The clip at `fps`, cropped to the output's aspect around the face (source time), then
    cut like the voice; `duration_s` long (the last frame held if the picture ends first).

    Crop before cut: the face path is in the clip's own time, which ``select`` then leaves.
    Scaling to `width` x `height` is left to the camera step or the final scale.
    """
    stream = (
        ffm.input(os.fspath(talk.path)).video
        .filter("setpts", "PTS-STARTPTS")
        .filter("fps", fps)
        .filter("crop", **crop_args(talk.track, talk.width, talk.height, width=width,
                                    height=height))
    )  # fmt: skip
    if talk.cuts is not None and not talk.cuts.is_identity:
        stream = stream.filter("select", keep_expr(talk.cuts, fps)).filter(
            "setpts", f"N/({fps}*TB)"
        )
    return (
        stream.filter("setsar", 1)
        .filter("tpad", stop=-1, stop_mode="clone")
        .filter("trim", duration=f"{duration_s:.3f}")
    )
