"""The bundled caption fonts and text widths measured from them.

Captions are laid out in Python (libass never wraps them), so widths must match what libass will
draw. libass scales a font so that its OS/2 ``usWinAscent + usWinDescent`` spans the font size in
pixels; advances are therefore ``advance * size / win_height``, shaped by HarfBuzz (uharfbuzz)
as libass shapes them, so joined Arabic and Devanagari conjuncts measure what is drawn.
"""

from __future__ import annotations

import functools
import struct
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import uharfbuzz as hb

DEFAULT_FAMILY = "Noto Sans"
# Bundled faces (FONTS.md); the first is the default, the others cover scripts Noto Sans lacks,
# in the order a character is looked up. Simplified Chinese comes first of the CJK faces;
# `cjk_font` picks the right one for a whole transcript (Han shapes differ by region).
_FONT_FILES = (
    "NotoSans-Bold.ttf",
    "NotoSansArabic-Bold.ttf",
    "NotoSansHebrew-Bold.ttf",
    "NotoSansDevanagari-Bold.ttf",
    "NotoSansBengali-Bold.ttf",
    "NotoSansTamil-Bold.ttf",
    "NotoSansThai-Bold.ttf",
    "NotoSansSC-Bold.ttf",
    "NotoSansTC-Bold.ttf",
    "NotoSansJP-Bold.ttf",
    "NotoSansKR-Bold.ttf",
    "NotoEmoji-Regular.ttf",
)
_CJK_BY_LANGUAGE = {"zh": "Noto Sans SC", "ja": "Noto Sans JP", "ko": "Noto Sans KR"}
_TRADITIONAL = ("zh-tw", "zh-hk", "zh-mo", "zh-hant", "yue")
# Characters nothing draws on purpose: joiners, direction marks, variation selectors, controls.
_INVISIBLE_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")
_MISSING_GLYPH_EM = 0.6  # width of a character no bundled font has, as a fraction of the size


def fonts_dir() -> Path:
    """The folder of bundled fonts, to pass to ffmpeg's ``ass`` filter as ``fontsdir``."""
    return Path(str(resources.files("reelflow").joinpath("assets", "fonts")))


@dataclass(frozen=True, eq=False)
class Font:
    """One bundled font file: its family name (as libass matches it) and what it draws."""

    family: str
    path: Path
    win_height: int  # usWinAscent + usWinDescent, in font units: this spans the font size
    codepoints: frozenset[int]  # the characters its cmap maps to a glyph
    units_per_em: int = 1000

    def covers(self, char: str) -> bool:
        return ord(char) in self.codepoints

    def char_width(self, char: str, size_px: float) -> float:
        return _shaped_units(self.path, char) * size_px / self.win_height


@functools.cache
def bundled_fonts() -> tuple[Font, ...]:
    """Every bundled font, the default (Latin, Cyrillic, Greek) first."""
    return tuple(_load(fonts_dir() / name) for name in _FONT_FILES)


def _load(path: Path) -> Font:
    # HarfBuzz reads the cmap and the few header fields in C: loading all twelve faces takes
    # milliseconds, where fontTools spent 0.8 s decoding the CJK cmaps on every caption step.
    face = _hb_font(path).face
    win_ascent, win_descent = struct.unpack_from(">HH", face.reference_table("OS/2").data, 74)
    family = face.get_name(hb.OTNameIdPredefined.FONT_FAMILY) or path.stem
    return Font(family, path, win_ascent + win_descent, frozenset(face.unicodes), face.upem)


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


def font_for_text(text: str, base: Font, *, prefer: Font | None = None) -> Font:
    """The font libass should draw `text` with: `base` unless a letter needs another script's.

    `prefer` (the transcript's CJK face, from `cjk_font`) is tried before the other fallbacks,
    so a Japanese word written only in kanji still gets Japanese glyph shapes.
    """
    fonts = bundled_fonts() if prefer is None else (prefer, *bundled_fonts())
    for char in text:
        if _needs_font(char) and not base.covers(char):
            for font in fonts:
                if font.covers(char):
                    return font
    return base


def _needs_font(char: str) -> bool:
    # Letters pick the face. An emoji next to words ("job 😀") must not: the whole word would
    # switch to the emoji face's size; libass draws it from the emoji face (the only bundled
    # font with it) at the word's size, and `text_width` measures it the same way.
    return char.isalpha()


def cjk_font(text: str, *, language: str | None = None) -> Font | None:
    """The CJK face for a transcript: from `language` (BCP 47, e.g. ``zh-TW``) when given,
    else kana means Japanese and hangul Korean; Han alone means Simplified Chinese."""
    family = None
    if language:
        tag = language.lower().replace("_", "-")
        if tag.startswith(_TRADITIONAL):
            family = "Noto Sans TC"
        else:
            family = _CJK_BY_LANGUAGE.get(tag.split("-")[0])
    if family is None:
        if any("\u3040" <= c <= "\u30ff" for c in text):
            family = "Noto Sans JP"
        elif any("\uac00" <= c <= "\ud7a3" or "\u1100" <= c <= "\u11ff" for c in text):
            family = "Noto Sans KR"
        elif any(unicodedata.name(c, "").startswith("CJK UNIFIED") for c in text):
            family = "Noto Sans SC"
    return None if family is None else resolve_font(family)


def uncovered_chars(text: str) -> list[str]:
    """Characters of `text` that no bundled font has a glyph for, in order, each once.

    libass would draw these as empty boxes ("tofu"); callers report them instead.
    Whitespace and invisible format characters (joiners, selectors, marks) never count.
    """
    fonts = bundled_fonts()
    missing: dict[str, None] = {}
    for char in text:
        if char.isspace() or unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            continue
        if "\ufe00" <= char <= "\ufe0f" or char in missing:
            continue  # variation selectors only choose a presentation
        if not any(font.covers(char) for font in fonts):
            missing[char] = None
    return list(missing)


def matched_size(font: Font, base: Font, size_px: float) -> float:
    """The size at which `font` draws letters as large as `base` does at `size_px`.

    Fonts for scripts with tall marks (Arabic) have much larger win metrics, so libass would
    draw them smaller at the same nominal size; matching the em keeps mixed captions even.
    """
    # Equal ems: size / win_height * units_per_em must be the same for both fonts.
    return size_px * (font.win_height / font.units_per_em) / (base.win_height / base.units_per_em)


def text_width(text: str, font: Font, size_px: float) -> float:
    """Shaped advance width of `text` in pixels at `size_px`, falling back per run like libass.

    HarfBuzz shapes each run of characters one font draws, so Arabic joining forms, Devanagari
    conjuncts and Thai marks measure what libass (which shapes with HarfBuzz too) will draw.
    """
    total = 0.0
    for run_font, run in _font_runs(text, font):
        if run_font is None:
            total += _MISSING_GLYPH_EM * size_px * len(run)
        else:
            total += _shaped_units(run_font.path, run) * size_px / run_font.win_height
    return total


def _font_runs(text: str, font: Font) -> list[tuple[Font | None, str]]:
    """`text` cut into runs drawn by one font each: `font` first, then the bundled fallbacks.
    Marks and joiners stay with the run before them, as libass keeps them with their base."""
    fallbacks = (font, *bundled_fonts())
    runs: list[tuple[Font | None, str]] = []
    for char in text:
        if runs and (unicodedata.combining(char) or unicodedata.category(char) == "Cf"):
            runs[-1] = (runs[-1][0], runs[-1][1] + char)
            continue
        chosen = next((f for f in fallbacks if f.covers(char)), None)
        if runs and runs[-1][0] is chosen:
            runs[-1] = (chosen, runs[-1][1] + char)
        else:
            runs.append((chosen, char))
    return runs


@functools.cache
def _hb_font(path: Path) -> hb.Font:
    return hb.Font(hb.Face(hb.Blob.from_file_path(str(path))))  # scale = units per em


@functools.lru_cache(maxsize=4096)
def _shaped_units(path: Path, run: str) -> int:
    """Total advance of `run` shaped with the font at `path`, in font units."""
    buf = hb.Buffer()
    buf.add_str(run)
    buf.guess_segment_properties()
    hb.shape(_hb_font(path), buf, {})
    return sum(pos.x_advance for pos in buf.glyph_positions)


def is_rtl(text: str) -> bool:
    """Whether the first letter with a strong direction in `text` is right-to-left."""
    for char in text:
        direction = unicodedata.bidirectional(char)
        if direction in ("R", "AL"):
            return True
        if direction == "L":
            return False
    return False
