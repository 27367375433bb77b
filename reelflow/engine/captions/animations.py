"""The caption animations: one timed, laid-out caption -> its ASS events.

Each word gets its own events, anchored at its centre (``\\an5``) on the point the layout chose,
so words never reflow. Event times are whole centiseconds; times inside tags (``\\t``,
``\\move``, ``\\fad``) are milliseconds from the event's start, as ASS defines them.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pysubs2

from reelflow.engine.captions.fonts import is_rtl
from reelflow.engine.captions.layout import CaptionLayout, PlacedWord

STYLE_NAME = "Caption"
WAVE_STEP_CS = 8  # wave keyframes every 80 ms (12.5 per second), since \t cannot move text
WAVE_FADE_MS = 80


@dataclass(frozen=True)
class TimedCaption:
    """A laid-out caption with its times in centiseconds (word starts clamped inside it)."""

    layout: CaptionLayout
    word_starts: tuple[int, ...]
    word_ends: tuple[int, ...]
    start: int
    end: int
    emphasis: tuple[bool, ...] = ()  # per word: drawn in the emphasis colour

    def emphasised(self, k: int) -> bool:
        return bool(self.emphasis) and self.emphasis[k]


@dataclass(frozen=True)
class CaptionLook:
    """What the animations need besides the caption: colours, settings, the base size and font."""

    primary: str
    highlight: str
    settings: dict[str, float]
    scale: float  # output short side / 1080
    size_px: float
    family: str
    emphasis: str = "&H00D1FF&"  # ASS colour of emphasised words

    def base(self, cap: TimedCaption, k: int) -> str:
        """The colour word `k` has when it is not the spoken one."""
        return self.emphasis if cap.emphasised(k) else self.primary


def _highlight(cap: TimedCaption, look: CaptionLook) -> Iterator[pysubs2.SSAEvent]:
    """Whole caption shown; the word being spoken is coloured and enlarged until the next one."""
    pct = _num(look.settings["scale"] * 100)
    fade_ms = _ms(look.settings["transition"])
    hot = f"\\1c{look.highlight}\\fscx{pct}\\fscy{pct}"
    n = len(cap.layout.words)
    for k, word in enumerate(cap.layout.words):
        cold = f"\\1c{look.base(cap, k)}\\fscx100\\fscy100"
        start = cap.word_starts[k]
        active_end = cap.word_starts[k + 1] if k + 1 < n else cap.word_ends[k]
        tags = _tags(cap, k, look) + f"\\pos({_num(word.x)},{_num(word.y)})"
        if start > cap.start:
            yield _event(cap.start, start, tags, word.text)
        yield _event(start, active_end, f"{tags}\\t(0,{fade_ms},{hot})", word.text, layer=1)
        if active_end < cap.end:
            yield _event(active_end, cap.end, f"{tags}{hot}\\t(0,{fade_ms},{cold})", word.text)


def _wave(cap: TimedCaption, look: CaptionLook) -> Iterator[pysubs2.SSAEvent]:
    """Each word appears as spoken and bobs on a sine wave travelling along the caption."""
    amp = look.settings["amplitude"] * look.scale
    omega = 2 * math.pi * look.settings["frequency"]
    delay = look.settings["delay"]
    for k, word in enumerate(cap.layout.words):
        start = cap.word_starts[k]
        cuts = [*range(start, cap.end, WAVE_STEP_CS), cap.end]
        ys = [word.y - amp * math.sin(omega * (t / 100 - k * delay)) for t in cuts]
        x = _num(word.x)
        for i in range(len(cuts) - 1):
            fade = f"\\fad({min(WAVE_FADE_MS, (cuts[1] - start) * 10)},0)" if i == 0 else ""
            move = f"\\move({x},{_num(ys[i])},{x},{_num(ys[i + 1])}){fade}"
            yield _event(cuts[i], cuts[i + 1], _tags(cap, k, look) + move, word.text)


def _typewriter(cap: TimedCaption, look: CaptionLook) -> Iterator[pysubs2.SSAEvent]:
    """Letters appear one by one while their word is spoken (hidden ones keep their place).

    Typing starts `lead` s before the word (default 0) and ends as the word does.
    """
    lead_cs = to_cs(look.settings["lead"])
    for k, word in enumerate(cap.layout.words):
        start = max(cap.start, cap.word_starts[k] - lead_cs)
        typing_ms = (cap.word_ends[k] - start) * 10
        tags = _tags(cap, k, look) + f"\\pos({_num(word.x)},{_num(word.y)})"
        if is_rtl(word.text):
            # libass reorders right-to-left text per override block, so per-letter tags would
            # scramble it: wipe the word in from the right instead.
            yield _event(start, cap.end, tags + _wipe_from_right(word, typing_ms), word.text)
            continue
        letters = _letters(word.text)
        parts = [letters[0]]
        for j, letter in enumerate(letters[1:], start=1):
            at = round(j * typing_ms / len(letters))
            parts.append(f"{{\\alpha&HFF&\\t({at},{at + 1},\\alpha&H00&)}}{letter}")
        yield _event(start, cap.end, tags, "".join(parts))


def _wipe_from_right(word: PlacedWord, duration_ms: int) -> str:
    margin = 0.25 * word.size_px  # outline and shadow
    left = round(word.x - word.width_px / 2 - margin)
    right = round(word.x + word.width_px / 2 + margin)
    top, bottom = round(word.y - word.size_px), round(word.y + word.size_px)
    return (
        f"\\clip({right},{top},{right},{bottom})"
        f"\\t(0,{duration_ms},\\clip({left},{top},{right},{bottom}))"
    )


def _bounce(cap: TimedCaption, look: CaptionLook) -> Iterator[pysubs2.SSAEvent]:
    """Each word pops in as spoken: grows past full size while hopping up, then settles."""
    big = _num(look.settings["overshoot"] * 100)
    hop = look.settings["height"] * look.scale
    rise_cs = max(1, to_cs(0.6 * look.settings["duration"]))
    settle_ms = max(10, _ms(look.settings["duration"]) - rise_cs * 10)
    for k, word in enumerate(cap.layout.words):
        start = cap.word_starts[k]
        peak = min(start + rise_cs, cap.end)
        x, y, y_top = _num(word.x), _num(word.y), _num(word.y - hop)
        tags = _tags(cap, k, look)
        grow = f"\\fscx0\\fscy0\\t(0,{(peak - start) * 10},0.6,\\fscx{big}\\fscy{big})"
        yield _event(start, peak, f"{tags}\\move({x},{y},{x},{y_top}){grow}", word.text)
        if peak < cap.end:
            settle = f"\\fscx{big}\\fscy{big}\\t(0,{settle_ms},\\fscx100\\fscy100)"
            move = f"\\move({x},{y_top},{x},{y},0,{settle_ms})"
            yield _event(peak, cap.end, f"{tags}{move}{settle}", word.text)


def _fade(cap: TimedCaption, look: CaptionLook) -> Iterator[pysubs2.SSAEvent]:
    """Each word fades in as spoken; the whole caption fades out together at its end."""
    for k, word in enumerate(cap.layout.words):
        start = cap.word_starts[k]
        length_ms = (cap.end - start) * 10
        fade_in = min(_ms(look.settings["fade_in"]), length_ms // 2)
        fade_out = min(_ms(look.settings["fade_out"]), length_ms - fade_in)
        pos = f"\\pos({_num(word.x)},{_num(word.y)})\\fad({fade_in},{fade_out})"
        yield _event(start, cap.end, _tags(cap, k, look) + pos, word.text)


def _karaoke(cap: TimedCaption, look: CaptionLook) -> Iterator[pysubs2.SSAEvent]:
    """Whole caption shown; the highlight colour sweeps through each word, in its reading
    direction, while it is spoken (libass ``\\kf``: secondary colour before the sweep, primary
    after; right-to-left words get a highlighted copy wiped in from the right instead)."""
    for k, word in enumerate(cap.layout.words):
        start = cap.word_starts[k]
        sweep = max(1, cap.word_ends[k] - start)
        tags = _tags(cap, k, look, colour=False) + f"\\pos({_num(word.x)},{_num(word.y)})"
        if is_rtl(word.text):
            # \kf fills left to right whatever the script: Arabic and Hebrew read the other way
            yield _event(cap.start, cap.end, f"{tags}\\1c{look.base(cap, k)}", word.text)
            wipe = _wipe_from_right(word, sweep * 10)
            yield _event(start, cap.end, f"{tags}\\1c{look.highlight}{wipe}", word.text, layer=1)
            continue
        if start > cap.start:  # waiting for its turn, unswept
            yield _event(cap.start, start, f"{tags}\\1c{look.base(cap, k)}", word.text)
        colours = f"\\1c{look.highlight}\\2c{look.base(cap, k)}"
        # \kf counts centiseconds from the event's start, which is the word's spoken start.
        yield _event(start, cap.end, f"{tags}{colours}\\kf{sweep}", word.text, layer=1)


ANIMATIONS: dict[str, Callable[[TimedCaption, CaptionLook], Iterator[pysubs2.SSAEvent]]] = {
    "highlight": _highlight,
    "wave": _wave,
    "typewriter": _typewriter,
    "bounce": _bounce,
    "fade": _fade,
    "karaoke": _karaoke,
}


def _tags(cap: TimedCaption, k: int, look: CaptionLook, *, colour: bool = True) -> str:
    """Tags every event of word `k` starts with: centre anchor, the emphasis colour if the word
    has it, then its font and size when they are not the style's (another script's font, or
    a caption shrunk to fit)."""
    word, tags = cap.layout.words[k], "\\an5"
    if colour and cap.emphasised(k):
        tags += f"\\1c{look.emphasis}"
    if word.font.family != look.family:
        tags += f"\\fn{word.font.family}"
    if abs(word.size_px - look.size_px) > 0.05:
        tags += f"\\fs{_num(word.size_px)}"
    return tags


def _event(start_cs: int, end_cs: int, tags: str, text: str, *, layer: int = 0):
    return pysubs2.SSAEvent(
        start=start_cs * 10,
        end=end_cs * 10,
        text=f"{{{tags}}}{text}",
        style=STYLE_NAME,
        layer=layer,
    )


def _letters(text: str) -> list[str]:
    """Letters with their combining marks attached, so a mark never appears on its own."""
    out: list[str] = []
    for char in text:
        if out and (unicodedata.combining(char) or char == "\u200d"):
            out[-1] += char
        else:
            out.append(char)
    return out or [""]


def to_cs(seconds: float) -> int:
    """Seconds to whole centiseconds, rounded (ASS event times have no finer resolution)."""
    return round(seconds * 100)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")
