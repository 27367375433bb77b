"""Rounded boxes behind the spoken word, as ASS vector drawings (``\\p1``).

Each box is its own event on layer 0, shown while its word is the spoken one (from the word's
start to the next word's start), so the word's text events, one layer up, are drawn over it.
Sizes are fractions of the word's font size; the layout reserves `BOX_PAD_X` around every
word so a box never leaves the safe zone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pysubs2

from reelflow.engine.captions.animations import STYLE_NAME, TimedCaption

BOX_PAD_X = 0.18  # box beyond the letters, left and right, in font sizes
BOX_HALF_HEIGHT = 0.56  # half the box's height, in font sizes (letters take about 0.5)
BOX_RADIUS = 0.4  # corner radius as a fraction of the half height
BOX_FADE_MS = 40


def rounded_rect(width: float, height: float, radius: float) -> str:
    """ASS drawing commands of a `width` x `height` rectangle with rounded corners, its top
    left corner at the origin (cubic Béziers approximate the quarter circles)."""
    w, h, r = (round(v, 1) for v in (width, height, min(radius, width / 2, height / 2)))
    k = round(r * 0.45, 1)  # control points: 1 - 0.55 of the radius from the corner
    return (
        f"m {r} 0 l {w - r} 0 b {w - k} 0 {w} {k} {w} {r} "
        f"l {w} {h - r} b {w} {h - k} {w - k} {h} {w - r} {h} "
        f"l {r} {h} b {k} {h} 0 {h - k} 0 {h - r} "
        f"l 0 {r} b 0 {k} {k} 0 {r} 0"
    )


def box_events(cap: TimedCaption, colour: str, *, scale: float = 1.0) -> Iterator[pysubs2.SSAEvent]:
    """One box event per word of `cap`, while it is spoken; `scale` is how large the word
    grows while spoken (the box grows with it)."""
    words = cap.layout.words
    for k, word in enumerate(words):
        start = cap.word_starts[k]
        end = cap.word_starts[k + 1] if k + 1 < len(words) else cap.word_ends[k]
        end = min(max(end, start + 1), cap.end)
        if end <= start:
            continue
        width = word.width_px * scale + 2 * BOX_PAD_X * word.size_px
        height = 2 * BOX_HALF_HEIGHT * word.size_px * scale
        left, top = word.x - width / 2, word.y - height / 2
        tags = (
            f"\\an7\\pos({left:.1f},{top:.1f})\\1c{colour}\\bord0\\shad0"
            f"\\fscx100\\fscy100\\fad({BOX_FADE_MS},0)\\p1"
        )
        drawing = rounded_rect(width, height, BOX_RADIUS * height / 2)
        yield pysubs2.SSAEvent(
            start=start * 10, end=end * 10, text=f"{{{tags}}}{drawing}", style=STYLE_NAME, layer=0
        )
