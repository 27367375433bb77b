"""What the render lays over the picture besides captions: a hook title card and a progress bar.

Both join the render's one filter graph (no second encode): the title is an ASS file drawn by a
second ``ass`` filter (libass shapes and places it like the captions), the bar a one-colour
lavfi source overlaid at an ``x`` that moves with the frame time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ffmpeg as ffm
import pysubs2

from reelflow.engine.captions.fonts import resolve_font
from reelflow.engine.captions.layout import Box, LayoutRules, try_layout
from reelflow.engine.errors import InputError
from reelflow.engine.ffmpeg import atomic_output
from reelflow.presets import SafeZone

TITLE_SIZE = 0.085  # of the short side: a hook is larger than a caption (96/1080 = 0.089)
TITLE_MIN_SIZE = 0.03
TITLE_LINES = 4
TITLE_FADE_IN_MS = 150
TITLE_FADE_OUT_MS = 300
BAR_HEIGHT = 0.008  # of the frame height, at least 4 px


@dataclass(frozen=True)
class TitleCard:
    """A hook title shown over the opening `duration_s` seconds."""

    text: str
    duration_s: float
    colour: str = "#FFFFFF"  # #RRGGBB
    outline: str = "#000000"


def write_title(
    title: TitleCard, path: Path, *, width: int, height: int, safe_zone: SafeZone, reel_s: float
) -> Path:
    """Write `title` as an ASS file for a `width` x `height` frame: the largest size at which it
    fits the safe zone in at most four lines, centred, popping in and fading out."""
    words = title.text.split()
    if not words:
        raise InputError("the title has no words", field="title.text")
    safe = Box(safe_zone.left * width, safe_zone.top * height,
               (1 - safe_zone.right) * width, (1 - safe_zone.bottom) * height)  # fmt: skip
    font = resolve_font("Noto Sans")
    short = min(width, height)
    size = TITLE_SIZE * short
    outline = max(2.0, size * 0.08)
    rules = LayoutRules(safe, "center", TITLE_LINES, pad_px=outline * 1.5, grow=1.1)
    layout = try_layout(words, font, size, rules)
    while layout is None and size > TITLE_MIN_SIZE * short:
        size *= 0.92
        layout = try_layout(words, font, size, rules)
    if layout is None:
        raise InputError("the title is too long to fit the frame", field="title.text")
    end_ms = round(min(title.duration_s, reel_s) * 1000)
    subs = pysubs2.SSAFile()
    subs.info.update({"PlayResX": str(width), "PlayResY": str(height), "WrapStyle": "2",
                      "YCbCr Matrix": "None"})  # fmt: skip
    subs.styles = {"Title": pysubs2.SSAStyle(
        fontname=font.family, fontsize=round(size, 1), primarycolor=_colour(title.colour),
        outlinecolor=_colour(title.outline), backcolor=_colour(title.outline, alpha=0x60),
        bold=True, outline=round(outline, 1), shadow=round(outline / 2, 1),
        alignment=pysubs2.Alignment.MIDDLE_CENTER, marginl=0, marginr=0, marginv=0,
    )}  # fmt: skip
    fade = f"\\fad({TITLE_FADE_IN_MS},{TITLE_FADE_OUT_MS})"
    pop = "\\fscx90\\fscy90\\t(0,200,\\fscx100\\fscy100)"
    for word in layout.words:
        tags = f"\\an5\\pos({word.x:.1f},{word.y:.1f}){fade}{pop}"
        text = f"{{{tags}}}{_escape(word.text)}"
        subs.events.append(pysubs2.SSAEvent(start=0, end=end_ms, text=text, style="Title"))
    with atomic_output(path) as tmp:
        subs.save(str(tmp), encoding="utf-8", format_="ass")
    return Path(path)


def progress_bar(video, *, colour: str, width: int, height: int, fps: int, duration_s: float):
    """`video` with a bar along its top edge that fills from left to right over `duration_s`."""
    bar_h = max(4, 2 * round(BAR_HEIGHT * height / 2))
    source = f"color=c=0x{colour.lstrip('#')}:s={width}x{bar_h}:r={fps}:d={duration_s:.3f}"
    bar = ffm.input(source, f="lavfi").video
    # The bar slides in from the left: its right edge is at W * t / duration.
    return ffm.overlay(video, bar, x=f"-w+W*t/{duration_s:.3f}", y=0, eval="frame",
                       eof_action="pass")  # fmt: skip


def _escape(text: str) -> str:
    return text.translate(str.maketrans({"{": "(", "}": ")", "\\": "/"}))


def _colour(hex_rgb: str, *, alpha: int = 0) -> pysubs2.Color:
    value = hex_rgb.lstrip("#")
    return pysubs2.Color(int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16), alpha)
