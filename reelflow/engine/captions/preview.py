"""A still of a caption look: sample words captioned with the reel's own ASS and libass path.

One ffmpeg call draws the captions file `build_captions` writes for a reel (same fonts, layout,
safe zone and animation) over a gradient, and keeps the frame where the second word is being
spoken, so the highlight, box, sweep or emphasis of the look shows.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import ffmpeg as ffm

from reelflow.engine import ffmpeg
from reelflow.engine.captions.ass import build_captions, fonts_dir
from reelflow.engine.errors import InputError
from reelflow.engine.timing import WordTiming, WordTimings
from reelflow.presets import CaptionStyle, SafeZone

SAMPLE_WORDS = ("Grow", "your", "audience", "with", "42", "reels")
WORD_S = 0.4  # each sample word's length
SHOWN_AT_S = 0.1 + WORD_S + 0.25  # well into the second word: its animation has settled
BACKDROP = ("#0F2027", "#2C5364", "#4B2C6F")
MAX_SIDE_PX = 1920  # a preview is a small picture, not a render
PREVIEW_VERSION = "1"  # bump when the drawing changes, so cached stills are redrawn


def sample_words() -> WordTimings:
    """The preview's words, one after another from 0.1 s."""
    words = tuple(
        WordTiming(w, 0.1 + i * WORD_S, 0.1 + (i + 1) * WORD_S - 0.05)
        for i, w in enumerate(SAMPLE_WORDS)
    )
    return WordTimings(words, "synthesized")


def preview_key(style: CaptionStyle, *, width: int, height: int, safe_zone: SafeZone) -> str:
    """A name for the still of these inputs (the style and zone are frozen dataclasses, whose
    repr lists every field)."""
    text = repr((PREVIEW_VERSION, style, width, height, safe_zone, SAMPLE_WORDS, BACKDROP))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def render_preview(
    style: CaptionStyle,
    path: Path,
    *,
    width: int,
    height: int,
    safe_zone: SafeZone,
    timeout_s: float = 30.0,
) -> Path:
    """Write a JPEG still (`width` x `height`) of `style` to `path`, atomically; return it."""
    if not (16 <= width <= MAX_SIDE_PX and 16 <= height <= MAX_SIDE_PX):
        raise InputError(f"preview size {width}x{height} is outside 16..{MAX_SIDE_PX} px")
    if width % 2 or height % 2:
        raise InputError(f"preview size {width}x{height} must be even")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    duration_s = len(SAMPLE_WORDS) * WORD_S + 0.2
    subs = build_captions(
        sample_words(),
        style,
        width=width,
        height=height,
        safe_zone=safe_zone,
        duration_s=duration_s,
    )
    stops = ":".join(f"c{i}=0x{c.lstrip('#')}" for i, c in enumerate(BACKDROP))
    source = (
        f"gradients=s={width}x{height}:r=25:d={duration_s:.2f}:n={len(BACKDROP)}:{stops}"
        f":x0=0:y0=0:x1={width}:y1={height}:speed=0:seed=1:type=linear"
    )
    captions = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}.ass")
    try:
        subs.save(str(captions), encoding="utf-8", format_="ass")
        with ffmpeg.atomic_output(path) as tmp:
            still = (
                ffm.input(source, f="lavfi")
                .video.filter("ass", filename=os.fspath(captions), fontsdir=os.fspath(fonts_dir()))
                # trimmed after the captions, so libass sees the frames' own times
                .filter("trim", start=SHOWN_AT_S)
                .filter("setpts", "PTS-STARTPTS")
                .filter("format", "yuvj420p")
                .output(os.fspath(tmp), vframes=1, **{"q:v": 4})
            )
            ffmpeg.run(still.get_args(), timeout_s=timeout_s)
    finally:
        captions.unlink(missing_ok=True)
    return path
