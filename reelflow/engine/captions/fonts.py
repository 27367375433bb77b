"""The bundled caption fonts and text widths measured from them.

Captions are laid out in Python (libass never wraps them), so widths must match what libass will
draw. libass scales a font so that its OS/2 ``usWinAscent + usWinDescent`` spans the font size in
pixels; advances are therefore ``advance * size / win_height``. Kerning and shaping are ignored,
which only ever over-estimates (Arabic joined forms are narrower than the isolated ones measured).
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fontTools.ttLib import TTFont

DEFAULT_FAMILY = "Noto Sans"
# Bundled bold faces; the first is the default, the others cover scripts Noto Sans lacks.
_FONT_FILES = ("NotoSans-Bold.ttf", "NotoSansArabic-Bold.ttf", "NotoSansHebrew-Bold.ttf")
_MISSING_GLYPH_EM = 0.6  # width of a character no bundled font has, as a fraction of the size


def fonts_dir() -> Path:
    """The folder of bundled fonts, to pass to ffmpeg's ``ass`` filter as ``fontsdir``."""
    return Path(str(resources.files("reelflow").joinpath("assets", "fonts")))


@dataclass(frozen=True, eq=False)
class Font:
    """One bundled font file: its family name (as libass matches it) and glyph advances."""

    family: str
    path: Path
    win_height: int  # usWinAscent + usWinDescent, in font units: this spans the font size
    advances: dict[int, int]  # code point -> advance width in font units

    def covers(self, char: str) -> bool:
        return ord(char) in self.advances

    def char_width(self, char: str, size_px: float) -> float:
        return self.advances[ord(char)] * size_px / self.win_height


@functools.cache
def bundled_fonts() -> tuple[Font, ...]:
    """Every bundled font, the default (Latin, Cyrillic, Greek) first."""
    return tuple(_load(fonts_dir() / name) for name in _FONT_FILES)


def _load(path: Path) -> Font:
    with TTFont(path, lazy=True) as tt:
        cmap = tt.getBestCmap()
        hmtx = tt["hmtx"]
        os2 = tt["OS/2"]
        family = tt["name"].getDebugName(1) or path.stem
        advances = {cp: hmtx[glyph][0] for cp, glyph in cmap.items()}
        return Font(family, path, os2.usWinAscent + os2.usWinDescent, advances)


def resolve_font(family: str) -> Font:
    """The bundled font named `family` (case and spaces ignored), else the default font.

    Only bundled fonts can be measured and are guaranteed to exist where the reel renders, so an
    unknown family falls back to Noto Sans rather than to whatever the machine happens to have.
    """
    key = family.replace(" ", "").lower()
    for font in bundled_fonts():
        if font.family.replace(" ", "").lower() == key:
            return font
    return bundled_fonts()[0]


def font_for_text(text: str, base: Font) -> Font:
    """The font libass should draw `text` with: `base` unless a letter needs another script's."""
    fonts = bundled_fonts()
    for char in text:
        if char.isalpha() and not base.covers(char):
            for font in fonts:
                if font.covers(char):
                    return font
    return base


def matched_size(font: Font, base: Font, size_px: float) -> float:
    """The size at which `font` draws letters as large as `base` does at `size_px`.

    Fonts for scripts with tall marks (Arabic) have much larger win metrics, so libass would
    draw them smaller at the same nominal size; matching the em keeps mixed captions even.
    """
    return size_px * font.win_height / base.win_height


def text_width(text: str, font: Font, size_px: float) -> float:
    """Advance width of `text` in pixels at `size_px`, falling back per character like libass."""
    fallbacks = (font, *bundled_fonts())
    total = 0.0
    for char in text:
        if unicodedata.combining(char) and not font.covers(char):
            continue  # a mark libass will stack on its base letter
        for candidate in fallbacks:
            if candidate.covers(char):
                total += candidate.char_width(char, size_px)
                break
        else:
            total += _MISSING_GLYPH_EM * size_px
    return total


def is_rtl(text: str) -> bool:
    """Whether the first letter with a strong direction in `text` is right-to-left."""
    for char in text:
        direction = unicodedata.bidirectional(char)
        if direction in ("R", "AL"):
            return True
        if direction == "L":
            return False
    return False
