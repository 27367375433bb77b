"""Where each word of a caption sits: wrapping, shrinking and placing inside the safe zone.

Every word is drawn as its own ASS event centred on a point computed here, so words never reflow
while they animate. Layout reserves room for the animation: `grow` (the largest scale a word
reaches) widens the gaps and margins, and `rise_px`/`sink_px` (vertical motion) the block height.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from reelflow.engine.captions.fonts import Font, font_for_text, is_rtl, matched_size, text_width
from reelflow.engine.segment import needs_segmenting
from reelflow.presets import CaptionPosition

LINE_STEP = 0.85  # distance between line centres, in font sizes
INK_HALF = 0.5  # half the height a line's letters can take, in font sizes (libass line box: 0.45)
SHRINK_STEP = 0.95


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in output pixels."""

    left: float
    top: float
    right: float
    bottom: float

    def contains(self, other: Box, *, tolerance_px: float = 0.5) -> bool:
        return (
            other.left >= self.left - tolerance_px
            and other.top >= self.top - tolerance_px
            and other.right <= self.right + tolerance_px
            and other.bottom <= self.bottom + tolerance_px
        )


@dataclass(frozen=True)
class LayoutRules:
    """What every caption of a reel shares: the safe box, where in it, and animation headroom."""

    safe: Box
    position: CaptionPosition
    max_lines: int
    pad_px: float  # outline + shadow around the letters
    grow: float = 1.0
    rise_px: float = 0.0
    sink_px: float = 0.0
    prefer: Font | None = None  # the transcript's CJK face, tried first for letters base lacks


@dataclass(frozen=True)
class PlacedWord:
    text: str
    font: Font
    size_px: float  # the caption's size, matched to this word's font
    x: float  # centre, for \an5\pos
    y: float
    width_px: float


@dataclass(frozen=True)
class CaptionLayout:
    """One caption on screen: its words in reading order, their size and the area they may use."""

    words: tuple[PlacedWord, ...]
    size_px: float
    lines: int
    extent: Box  # everything drawn, including outline and animation headroom


def layout_words(
    texts: Sequence[str], base: Font, size_px: float, rules: LayoutRules
) -> list[CaptionLayout]:
    """Lay out one group of words as one caption, or several when it cannot fit at `size_px`.

    A group too wide for `rules.max_lines` lines is split (longest fitting prefix first), keeping
    the requested size; a single word too wide on its own is shrunk until it fits.
    """
    layouts: list[CaptionLayout] = []
    rest = list(texts)
    while rest:
        for count in range(len(rest), 0, -1):
            layout = try_layout(rest[:count], base, size_px, rules)
            if layout is not None:
                break
        else:
            count, layout = 1, shrink_to_fit(rest[0], base, size_px, rules)
        layouts.append(layout)
        rest = rest[count:]
    return layouts


def shrink_to_fit(text: str, base: Font, size_px: float, rules: LayoutRules) -> CaptionLayout:
    """Lay out a single word, reducing its size until it fits in the safe box."""
    size = size_px
    while size > 1.0:
        size *= SHRINK_STEP
        layout = try_layout([text], base, size, rules)
        if layout is not None:
            return layout
    return _place([[text]], base, 1.0, rules)


def try_layout(
    texts: Sequence[str], base: Font, size_px: float, rules: LayoutRules
) -> CaptionLayout | None:
    """The layout of `texts` at `size_px` in the fewest lines that fit, or None if none does."""
    width_limit = rules.safe.right - rules.safe.left - 2 * rules.pad_px
    for n_lines in range(1, min(rules.max_lines, len(texts)) + 1):
        best: list[list[str]] | None = None
        best_width = width_limit
        for breaks in itertools.combinations(range(1, len(texts)), n_lines - 1):
            bounds = (0, *breaks, len(texts))
            lines = [list(texts[a:b]) for a, b in itertools.pairwise(bounds)]
            widest = max(_line_width(line, base, size_px, rules) for line in lines)
            if widest <= best_width:
                best, best_width = lines, widest  # balanced: the narrowest widest line wins
        if best is not None:
            layout = _place(best, base, size_px, rules)
            if rules.safe.contains(layout.extent):
                return layout
    return None


def _word_font(text: str, base: Font, size_px: float, prefer: Font | None) -> tuple[Font, float]:
    font = font_for_text(text, base, prefer=prefer)
    return font, matched_size(font, base, size_px)


def _word_widths(
    line: Sequence[str], base: Font, size_px: float, prefer: Font | None
) -> list[float]:
    return [text_width(t, *_word_font(t, base, size_px, prefer)) for t in line]


def _gaps(
    line: Sequence[str], widths: Sequence[float], base: Font, size_px: float, grow: float
) -> list[float]:
    """Space after each word: a space (none between words of unspaced writing such as Chinese,
    Japanese or Thai), plus room for either neighbour to grow into."""
    space = text_width(" ", base, size_px)
    spaces = [0.0 if _unspaced(a[-1], b[0]) else space for a, b in itertools.pairwise(line)]
    return [
        s + (grow - 1) * max(a, b) / 2
        for s, (a, b) in zip(spaces, itertools.pairwise(widths), strict=True)
    ]


def _unspaced(before: str, after: str) -> bool:
    return all(
        needs_segmenting(c) or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef"
        for c in (before, after)
    )


def _line_width(line: Sequence[str], base: Font, size_px: float, rules: LayoutRules) -> float:
    widths = _word_widths(line, base, size_px, rules.prefer)
    edges = (rules.grow - 1) * (widths[0] + widths[-1]) / 2
    return sum(widths) + sum(_gaps(line, widths, base, size_px, rules.grow)) + edges


def _place(lines: list[list[str]], base: Font, size_px: float, rules: LayoutRules) -> CaptionLayout:
    safe, step = rules.safe, LINE_STEP * size_px
    half = INK_HALF * size_px * rules.grow
    above = half + rules.rise_px + rules.pad_px  # from the first line's centre to the top
    below = half + rules.sink_px + rules.pad_px
    block = (len(lines) - 1) * step + above + below
    if rules.position == "top":
        top = safe.top
    elif rules.position == "bottom":
        top = safe.bottom - block
    else:
        top = (safe.top + safe.bottom - block) / 2
    centre_x = (safe.left + safe.right) / 2
    rtl = is_rtl(" ".join(itertools.chain.from_iterable(lines)))
    placed: list[PlacedWord] = []
    widest = 0.0
    for row, line in enumerate(lines):
        y = top + above + row * step
        widths = _word_widths(line, base, size_px, rules.prefer)
        gaps = [*_gaps(line, widths, base, size_px, rules.grow), 0.0]
        total = _line_width(line, base, size_px, rules)
        widest = max(widest, total)
        # Walk in visual order (right to left for RTL captions), keeping reading order in `placed`.
        cursor = centre_x - total / 2 + (rules.grow - 1) * (widths[-1] if rtl else widths[0]) / 2
        order = list(range(len(line)))[::-1] if rtl else range(len(line))
        row_words: dict[int, PlacedWord] = {}
        for i in order:
            font, size = _word_font(line[i], base, size_px, rules.prefer)
            row_words[i] = PlacedWord(line[i], font, size, cursor + widths[i] / 2, y, widths[i])
            cursor += widths[i] + (gaps[i - 1] if rtl else gaps[i])  # gaps[-1] is the 0.0 end
        placed.extend(row_words[i] for i in range(len(line)))
    extent = Box(
        centre_x - widest / 2 - rules.pad_px,
        top,
        centre_x + widest / 2 + rules.pad_px,
        top + block,
    )
    return CaptionLayout(tuple(placed), size_px, len(lines), extent)
