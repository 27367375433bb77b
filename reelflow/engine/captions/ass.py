"""Word timings -> an ASS subtitle file with animated, word-by-word captions.

Words are grouped into captions (by count, sentence ends and pauses), each caption is laid out
once with the real font (`caption_layout`), and every word becomes its own ASS events centred
with ``\\an5\\pos`` (or ``\\move``) on its laid-out point, so nothing reflows while it animates.
All times are whole centiseconds, the resolution of ASS, rounded (never truncated) so each
word's first event starts on its spoken start.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pysubs2

from reelflow.engine.captions.animations import (
    ANIMATIONS,
    STYLE_NAME,
    CaptionLook,
    TimedCaption,
    to_cs,
)
from reelflow.engine.captions.boxes import BOX_PAD_X, box_events
from reelflow.engine.captions.emphasis import emphasised
from reelflow.engine.captions.fonts import Font, cjk_font, fonts_dir, resolve_font, uncovered_chars
from reelflow.engine.captions.layout import Box, CaptionLayout, LayoutRules, layout_words
from reelflow.engine.errors import InputError
from reelflow.engine.ffmpeg import atomic_output
from reelflow.engine.timing import WordTiming, WordTimings
from reelflow.presets import CAPTION_ANIMATION_DEFAULTS, CaptionStyle, SafeZone

__all__ = ["CaptionsFile", "build_captions", "fonts_dir", "group_words", "write_captions"]

LEAD_S = 0.05  # a caption appears this much before its first word is heard
HOLD_S = 0.4  # and stays up to this much after its last word, unless the next one starts
PAUSE_S = 0.6  # a silence longer than this starts a new caption
REFERENCE_WIDTH = 1080  # style sizes are in pixels at this short side (the width at 9:16)
_SENTENCE_END = re.compile(r"[.!?…؟。！？][\"'”’»)\]]*$")
_ASS_SPECIAL = str.maketrans({"{": "(", "}": ")", "\\": "/"})
_HEX = re.compile(r"^#?([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})$")


@dataclass(frozen=True)
class CaptionsFile:
    """A written captions file and what could not be drawn in it (characters no bundled font
    has, left out rather than drawn as empty boxes), for the run's result."""

    path: Path
    warnings: tuple[str, ...] = ()


def build_captions(
    words: WordTimings,
    style: CaptionStyle,
    *,
    width: int,
    height: int,
    safe_zone: SafeZone,
    duration_s: float,
    language: str | None = None,
) -> pysubs2.SSAFile:
    """The captions of a reel as an ASS file whose script resolution is the output's.

    Words starting at or after `duration_s` are dropped; no event extends past it. No words
    gives a valid file with no events (a reel can be all music). Characters no bundled font
    covers are left out (`caption_warnings` names them); `language` (BCP 47) picks the CJK
    glyph shapes when the text alone cannot tell (Han characters only).
    """
    if style.animation not in CAPTION_ANIMATION_DEFAULTS:
        known = ", ".join(CAPTION_ANIMATION_DEFAULTS)
        raise InputError(f"{style.animation!r} is not one of {known}", field="captions.animation")
    if style.words_per_caption < 1 or style.max_lines < 1:
        raise InputError("words_per_caption and max_lines must be >= 1", field="captions")
    if width <= 0 or height <= 0 or not math.isfinite(duration_s) or duration_s < 0:
        raise InputError(f"bad output geometry {width}x{height}, {duration_s} s")
    settings = style.animation_settings()
    # Scaled by the short side, so a landscape reel's captions are as tall as a vertical one's.
    scale = min(width, height) / REFERENCE_WIDTH
    base = resolve_font(style.font)
    look = CaptionLook(
        _ass_colour(style.colours.primary),
        _ass_colour(style.colours.highlight),
        settings,
        scale,
        style.size_px * scale,
        base.family,
        _ass_colour(style.colours.emphasis),
    )
    subs = _new_file(style, look, width, height)
    limit_cs = math.floor(duration_s * 100 + 1e-6)
    timed = _drawable([w for w in words.words if to_cs(w.start_s) < limit_cs])
    prefer = cjk_font(" ".join(w.word for w in timed), language=language)
    # Emphasis is decided over the whole text: `auto` needs to see where sentences start.
    flags = emphasised([w.word for w in timed], style.emphasis)
    rules = _layout_rules(style, settings, _safe_box(safe_zone, width, height), scale, prefer)
    pieces: list[tuple[Sequence[WordTiming], CaptionLayout]] = []
    for group in group_words(timed, max_words=style.words_per_caption):
        texts = [_display_text(w.word, style) for w in group]
        offset = 0
        for layout in layout_words(texts, base, look.size_px, rules):
            pieces.append((group[offset : offset + len(layout.words)], layout))
            offset += len(layout.words)
    animate = ANIMATIONS[style.animation]
    box_colour = _ass_colour(style.colours.box)
    for caption in _schedule(pieces, limit_cs, flags):
        events = [e for e in animate(caption, look) if e.end > e.start]
        if style.box:
            for event in events:
                event.layer += 1  # the boxes go underneath
            events += box_events(caption, box_colour, scale=rules.grow)
        subs.events.extend(events)
    return subs


def _display_text(word: str, style: CaptionStyle) -> str:
    text = word.translate(_ASS_SPECIAL)
    return text.upper() if style.upper else text


def write_captions(
    words: WordTimings,
    style: CaptionStyle,
    path: Path,
    *,
    width: int,
    height: int,
    safe_zone: SafeZone,
    duration_s: float,
    language: str | None = None,
) -> CaptionsFile:
    """Build the captions and write them to `path` atomically (UTF-8 ``.ass``)."""
    subs = build_captions(
        words,
        style,
        width=width,
        height=height,
        safe_zone=safe_zone,
        duration_s=duration_s,
        language=language,
    )
    with atomic_output(path) as tmp:
        subs.save(str(tmp), encoding="utf-8", format_="ass")
    return CaptionsFile(Path(path), caption_warnings(words))


def caption_warnings(words: WordTimings) -> tuple[str, ...]:
    """One warning per character of the transcript that no bundled font can draw."""
    missing = uncovered_chars("".join(w.word for w in words.words))
    return tuple(
        f"no bundled font draws {c!r} (U+{ord(c):04X}); it is left out of the captions"
        for c in missing
    )


def _drawable(words: Sequence[WordTiming]) -> list[WordTiming]:
    """`words` without the characters no bundled font covers; a word left empty is dropped."""
    out: list[WordTiming] = []
    for word in words:
        missing = uncovered_chars(word.word)
        text = "".join(c for c in word.word if c not in missing) if missing else word.word
        if text.strip():
            out.append(word if text == word.word else dataclasses.replace(word, word=text))
    return out


def group_words(
    words: Sequence[WordTiming], *, max_words: int, pause_s: float = PAUSE_S
) -> list[list[WordTiming]]:
    """Split words into caption groups of at most `max_words`, breaking at sentence ends and
    at silences longer than `pause_s`."""
    groups: list[list[WordTiming]] = []
    for word in words:
        if groups:
            current = groups[-1]
            last = current[-1]
            if (
                len(current) < max_words
                and not _SENTENCE_END.search(last.word)
                and word.start_s - last.end_s <= pause_s
            ):
                current.append(word)
                continue
        groups.append([word])
    return groups


def _schedule(
    pieces: Sequence[tuple[Sequence[WordTiming], CaptionLayout]],
    limit_cs: int,
    flags: Sequence[bool],
) -> Iterator[TimedCaption]:
    """Caption times: a short lead and hold, never overlapping each other or past the end."""
    prev_end = 0
    for i, (words, layout) in enumerate(pieces):
        starts = [max(to_cs(w.start_s), prev_end) for w in words]
        start = min(max(to_cs(words[0].start_s - LEAD_S), prev_end, 0), starts[0])
        next_cs = to_cs(pieces[i + 1][0][0].start_s) if i + 1 < len(pieces) else limit_cs
        end = min(to_cs(words[-1].end_s + HOLD_S), next_cs, limit_cs)
        end = min(max(end, starts[-1] + 1), limit_cs)  # degenerate timings: show it 1 cs
        ends = [min(max(to_cs(w.end_s), s + 1), end) for w, s in zip(words, starts, strict=True)]
        # pieces cover the words in order, so each takes the next flags
        emphasis, flags = tuple(flags[: len(words)]), flags[len(words) :]
        yield TimedCaption(layout, tuple(starts), tuple(ends), start, end, emphasis)
        prev_end = end


def _new_file(style: CaptionStyle, look: CaptionLook, width: int, height: int) -> pysubs2.SSAFile:
    subs = pysubs2.SSAFile()
    subs.info.update(
        {"PlayResX": str(width), "PlayResY": str(height), "WrapStyle": "2", "YCbCr Matrix": "None"}
    )
    primary = _colour(style.colours.primary)
    subs.styles = {
        STYLE_NAME: pysubs2.SSAStyle(
            fontname=look.family,
            fontsize=round(look.size_px, 1),
            primarycolor=primary,
            secondarycolor=primary,
            outlinecolor=_colour(style.colours.outline),
            backcolor=_colour(style.colours.shadow, alpha=0x60),
            bold=True,
            outline=round(style.outline_px * look.scale, 2),
            shadow=round(style.shadow_px * look.scale, 2),
            alignment=pysubs2.Alignment.MIDDLE_CENTER,
            marginl=0,
            marginr=0,
            marginv=0,
        )
    }
    return subs


def _layout_rules(
    style: CaptionStyle, settings: dict[str, float], safe: Box, scale: float, prefer: Font | None
) -> LayoutRules:
    """Room each animation needs beyond the letters: growth, hops and waves."""
    grow, rise, sink = 1.0, 0.0, 0.0
    if style.animation == "highlight":
        grow = settings["scale"]
    elif style.animation == "bounce":
        grow, rise = settings["overshoot"], settings["height"] * scale
    elif style.animation == "wave":
        rise = sink = settings["amplitude"] * scale
    pad = (style.outline_px + style.shadow_px) * scale
    if style.box:
        # the box reaches past the letters by its padding (see boxes.py)
        pad = max(pad, BOX_PAD_X * style.size_px * scale * max(1.0, grow))
    return LayoutRules(
        safe, style.position, style.max_lines, pad, max(1.0, grow), rise, sink, prefer
    )


def _safe_box(zone: SafeZone, width: int, height: int) -> Box:
    box = Box(
        zone.left * width, zone.top * height, (1 - zone.right) * width, (1 - zone.bottom) * height
    )
    if box.right - box.left < 1 or box.bottom - box.top < 1:
        raise InputError(f"safe zone {zone} leaves no room for captions", field="platform")
    return box


def _ass_colour(hex_rgb: str) -> str:
    c = _colour(hex_rgb)
    return f"&H{c.b:02X}{c.g:02X}{c.r:02X}&"


def _colour(hex_rgb: str, *, alpha: int = 0) -> pysubs2.Color:
    match = _HEX.match(hex_rgb)
    if match is None:
        raise InputError(f"{hex_rgb!r} is not a #RRGGBB colour", field="captions.colours")
    r, g, b = (int(part, 16) for part in match.groups())
    return pysubs2.Color(r, g, b, alpha)
