"""Captions burnt in by the bundled ffmpeg's libass, decoded and checked pixel by pixel."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pysubs2
import pytest

from reelflow.engine.captions.ass import fonts_dir, write_captions
from reelflow.engine.captions.fonts import matched_size, resolve_font, text_width
from reelflow.engine.captions.layout import Box
from reelflow.engine.ffmpeg import run_to_bytes
from reelflow.engine.timing import WordTiming, WordTimings
from reelflow.presets import CAPTION_ANIMATIONS, PLATFORM_PRESETS, CaptionColours, CaptionStyle

W, H, FPS = 540, 960, 25
ZONE = PLATFORM_PRESETS["instagram"].safe_zone
SAFE = Box(ZONE.left * W, ZONE.top * H, (1 - ZONE.right) * W, (1 - ZONE.bottom) * H)
LONG_TEXT = (
    "Incomprehensibilities notwithstanding, characteristically straightforward explanations win "
    "Pneumonoultramicroscopicsilicovolcanoconiosis"
)
# Outline and shadow in colours a black frame shows, so they count as ink too.
VISIBLE_EDGES = CaptionColours(outline="#FF0000", shadow="#00FF00")
_POS = re.compile(r"\\pos\(([-\d.]+),([-\d.]+)\)")


def timings(text: str, *, start_s: float = 0.1, step_s: float = 0.4) -> WordTimings:
    words = tuple(
        WordTiming(w, start_s + i * step_s, start_s + i * step_s + 0.85 * step_s)
        for i, w in enumerate(text.split())
    )
    return WordTimings(words=words, method="synthesized")


def write(tmp_path: Path, words: WordTimings, duration_s: float, **style) -> Path:
    return write_captions(
        words,
        CaptionStyle(**style),
        tmp_path / "captions.ass",
        width=W,
        height=H,
        safe_zone=ZONE,
        duration_s=duration_s,
    ).path


def render_frames(
    ass: Path, times_s: list[float], duration_s: float, *, size: tuple[int, int] = (W, H)
) -> list[np.ndarray]:
    """Burn `ass` onto a black clip and return the frames shown at `times_s` (RGB arrays)."""
    width, height = size
    indices = sorted({round(t * FPS) for t in times_s})
    select = "+".join(f"eq(n\\,{i})" for i in indices)
    vf = f"ass=filename={ass}:fontsdir={fonts_dir()},select={select}"
    raw = run_to_bytes(
        ["-f", "lavfi", "-i", f"color=black:s={width}x{height}:r={FPS}:d={duration_s}", "-vf", vf,
         "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    )  # fmt: skip
    frames = np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)
    assert len(frames) == len(indices)
    by_index = dict(zip(indices, frames, strict=True))
    return [by_index[round(t * FPS)] for t in times_s]


def ink_box(frame: np.ndarray, mask: np.ndarray | None = None) -> Box | None:
    ys, xs = np.nonzero(frame.max(axis=2) > 40 if mask is None else mask)
    if xs.size == 0:
        return None
    return Box(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


@pytest.mark.parametrize("animation", sorted(CAPTION_ANIMATIONS))
@pytest.mark.parametrize("position", ["bottom", "top"])
def test_every_animation_draws_inside_the_safe_zone(tmp_path, animation, position):
    words = timings(LONG_TEXT)
    duration_s = words.last_end_s + 0.5
    ass = write(
        tmp_path, words, duration_s, animation=animation, position=position,
        words_per_caption=4, colours=VISIBLE_EDGES,
    )  # fmt: skip
    times = [t for w in words.words for t in (w.start_s + 0.1, w.start_s + 0.17, w.end_s - 0.02)]
    for t, frame in zip(times, render_frames(ass, times, duration_s), strict=True):
        box = ink_box(frame)
        assert box is not None, f"nothing drawn at {t:.2f} s"
        assert SAFE.contains(box, tolerance_px=1.0), (t, box, SAFE)


def test_highlight_colour_sits_on_the_spoken_word(tmp_path):
    words = timings("alpha bravo charlie", step_s=0.5)
    ass = write(tmp_path, words, 2.0, animation="highlight")
    events = pysubs2.load(str(ass)).events
    centres = {
        e.plaintext: tuple(map(float, _POS.search(e.text).groups())) for e in events if e.layer
    }
    times = [(w.start_s + w.end_s) / 2 for w in words.words]
    for w, frame in zip(words.words, render_frames(ass, times, 2.0), strict=True):
        r, g, b = (frame[..., c].astype(int) for c in range(3))
        yellow = (r > 180) & (g > 150) & (b < 90)  # #FFD400
        white = (r > 200) & (g > 200) & (b > 200)
        box = ink_box(frame, yellow)
        assert box is not None and yellow.sum() > 100, w.word
        x, y = centres[w.word]
        assert abs((box.left + box.right) / 2 - x) < 6 and abs((box.top + box.bottom) / 2 - y) < 12
        assert white.sum() > yellow.sum() / 2  # the other words stay white
        assert (
            not yellow[:, : int(box.left) - 20].any() and not yellow[:, int(box.right) + 20 :].any()
        )


@pytest.mark.parametrize(
    ("word", "family"),
    [
        ("Captioning", "Noto Sans"),
        ("מילים", "Noto Sans Hebrew"),
        ("كلمات", "Noto Sans Arabic"),
        ("क्षत्रिय", "Noto Sans Devanagari"),
        ("ภาษาไทย", "Noto Sans Thai"),
        ("বাংলা", "Noto Sans Bengali"),
        ("தமிழ்", "Noto Sans Tamil"),
        ("中文字幕", "Noto Sans SC"),
    ],
)
def test_measured_width_matches_what_libass_draws(tmp_path, word, family):
    words = WordTimings(words=(WordTiming(word, 0.1, 0.5),), method="synthesized")
    style = {"animation": "fade", "outline_px": 0.0, "shadow_px": 0.0, "size_px": 120}
    ass = write(tmp_path, words, 1.0, **style)
    (frame,) = render_frames(ass, [0.6], 1.0)
    box = ink_box(frame)
    base, font = resolve_font("Noto Sans"), resolve_font(family)
    measured = text_width(word, font, matched_size(font, base, 120 * W / 1080))
    drawn = box.right - box.left
    # Shaped advances include side bearings, so the ink is a little narrower, never wider.
    assert 0.85 * measured <= drawn <= measured + 2, (drawn, measured)


def test_typewriter_reveals_letters_in_reading_order(tmp_path):
    words = timings("Typewriting. שלום", start_s=0.1, step_s=1.0)
    ass = write(tmp_path, words, 2.5, animation="typewriter", outline_px=0.0, shadow_px=0.0)
    latin, hebrew = words.words
    fractions = (0.2, 0.5, 0.97)
    times = [w.start_s + f * w.duration_s for w in (latin, hebrew) for f in fractions]
    boxes = [ink_box(f) for f in render_frames(ass, times, 2.5)]
    lat, heb = boxes[:3], boxes[3:]
    # Latin grows to the right from a fixed left edge; Hebrew grows to the left.
    assert lat[0].right < lat[1].right < lat[2].right and lat[0].left == lat[2].left
    assert heb[0].left > heb[1].left > heb[2].left
    assert heb[2].right - heb[2].left > 2 * (heb[0].right - heb[0].left)


def test_no_words_burns_nothing(tmp_path):
    ass = write(tmp_path, WordTimings(words=(), method="estimated"), 1.0)
    (frame,) = render_frames(ass, [0.5], 1.0)
    assert ink_box(frame) is None
