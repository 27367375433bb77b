"""Caption looks (`captions.style`) and emphasis: resolved from the preset table, written as
ASS (parsed back here), and drawn by libass (frames decoded and read pixel by pixel)."""

from __future__ import annotations

import re

import numpy as np
import pysubs2
import pytest

from reelflow.engine.captions.ass import build_captions, write_captions
from reelflow.engine.captions.emphasis import emphasised
from reelflow.engine.captions.layout import Box
from reelflow.engine.timing import WordTiming, WordTimings
from reelflow.models import CaptionSpec, parse_spec
from reelflow.presets import ASPECT_PRESETS, CAPTION_LOOKS, PLATFORM_PRESETS, QUALITY_PRESETS
from tests.engine.test_captions_render import ink_box, render_frames

W, H = 540, 960
ZONE = PLATFORM_PRESETS["instagram"].safe_zone
SAFE = Box(ZONE.left * W, ZONE.top * H, (1 - ZONE.right) * W, (1 - ZONE.bottom) * H)
TEXT = "In 2024 Marie walked extraordinary distances. The rest was easy."
_POS = re.compile(r"\\pos\(([-\d.]+),([-\d.]+)\)")


def timings(text: str = TEXT, *, step_s: float = 0.4) -> WordTimings:
    words = tuple(
        WordTiming(w, 0.1 + i * step_s, 0.1 + i * step_s + 0.85 * step_s)
        for i, w in enumerate(text.split())
    )
    return WordTimings(words=words, method="aligned")


def look_style(look: str, **fields):
    return CaptionSpec.model_validate({"style": look, **fields}).to_style()


def captions(look: str, words: WordTimings | None = None, **fields) -> pysubs2.SSAFile:
    words = words or timings()
    return build_captions(words, look_style(look, **fields), width=W, height=H, safe_zone=ZONE,
                          duration_s=words.last_end_s + 0.5)  # fmt: skip


def rgb(frame: np.ndarray, hex_colour: str, tolerance: int = 60) -> np.ndarray:
    """Mask of pixels within `tolerance` of `hex_colour` in every channel."""
    target = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    return np.all(np.abs(frame.astype(int) - target) <= tolerance, axis=2)


def test_each_look_is_its_preset_and_fields_beside_it_win():
    for name, look in CAPTION_LOOKS.items():
        style = look_style(name)
        assert (style.animation, style.size_px, style.position) == (
            look.animation,
            look.size_px,
            look.position,
        )
        assert (style.upper, style.box, style.outline_px) == (look.upper, look.box, look.outline_px)
        assert style.emphasis == look.emphasis
    assert look_style("minimal", size=80, animation="wave").size_px == 80
    assert look_style("minimal", size=80, animation="wave").animation == "wave"
    # A stored (fully dumped) spec parses back to the same look.
    spec = CaptionSpec.model_validate({"style": "bold", "emphasis": ["Marie"]})
    assert CaptionSpec.model_validate(spec.model_dump()) == spec
    assert spec.to_style().emphasis == ("Marie",)
    assert parse_spec({"script": "hi", "captions": {"style": "karaoke"}}).captions.animation == (
        "karaoke"
    )


def test_auto_emphasis_marks_numbers_names_and_long_words():
    words = TEXT.split()
    flags = dict(zip(words, emphasised(words, "auto"), strict=True))
    assert flags["2024"] and not flags["In"] and not flags["The"] and not flags["was"]
    # each sentence keeps a quarter at most: the number wins the first sentence
    assert sum(emphasised(words[:6], "auto")) == 1
    assert emphasised(["The", "Eiffel", "Tower", "is", "tall."], "auto") == (
        False,
        True,
        False,
        False,
        False,
    )
    assert emphasised(words, ["marie", "EASY"]) == tuple(w in ("Marie", "easy.") for w in words)
    assert not any(emphasised(words, "none"))


def test_bold_is_upper_case_with_a_heavy_outline_and_a_larger_accent_word():
    subs = captions("bold")
    texts = [e.plaintext for e in subs.events]
    assert texts and all(t == t.upper() for t in texts) and "MARIE" in texts
    style = subs.styles["Caption"]
    assert style.outline == pytest.approx(9.0 * W / 1080)
    active = [e for e in subs.events if e.layer == 1]
    assert active and all("\\fscx130" in e.text and "\\1c&H00FF3C&" in e.text for e in active)


def test_boxed_draws_a_rounded_box_under_each_spoken_word():
    words = timings()
    subs = captions("boxed", words)
    boxes = [e for e in subs.events if "\\p1" in e.text]
    text_events = [e for e in subs.events if "\\p1" not in e.text]
    assert len(boxes) == len(words)
    assert all(e.layer == 0 for e in boxes) and all(e.layer >= 1 for e in text_events)
    for box, word, nxt in zip(boxes, words.words, [*words.words[1:], None], strict=True):
        assert box.start == round(word.start_s * 100) * 10
        if nxt is not None and box.end < 10_000:
            assert box.end <= round(nxt.start_s * 100) * 10
        x, y = map(float, _POS.search(box.text).groups())
        drawing = box.text.split("}", 1)[1].split()
        xs = [float(v) for v in drawing if v not in "mlb"][0::2]
        ys = [float(v) for v in drawing if v not in "mlb"][1::2]
        assert SAFE.contains(Box(x + min(xs), y + min(ys), x + max(xs), y + max(ys)))
        assert " b " in f" {' '.join(drawing)} "  # rounded corners


def test_karaoke_sweeps_each_word_while_it_is_spoken():
    words = timings()
    subs = captions("karaoke", words)
    sweeps = [e for e in subs.events if "\\kf" in e.text]
    assert len(sweeps) == len(words)
    for event, word in zip(sweeps, words.words, strict=True):
        (sweep,) = map(int, re.search(r"\\kf(\d+)", event.text).groups())
        assert event.start / 10 == round(word.start_s * 100)  # the sweep starts as it is said
        assert sweep == round(word.end_s * 100) - round(word.start_s * 100)
    waiting = [e for e in subs.events if "\\kf" not in e.text]
    assert all("\\1c&HFFFFFF&" in e.text or "\\1c&H00D4FF&" in e.text for e in waiting)


def test_minimal_is_small_faded_and_low():
    subs = captions("minimal")
    assert subs.styles["Caption"].fontsize == pytest.approx(60 * W / 1080, abs=0.1)
    assert all("\\fad(" in e.text for e in subs.events)
    ys = [float(_POS.search(e.text).group(2)) for e in subs.events]
    assert min(ys) > H * 2 / 3  # the lower third


@pytest.mark.parametrize("aspect", ["9:16", "16:9"])
@pytest.mark.parametrize("look", list(CAPTION_LOOKS))
def test_every_look_draws_inside_the_safe_zone(tmp_path, look, aspect):
    width, height = ASPECT_PRESETS[aspect].size(QUALITY_PRESETS["low"])
    zone = PLATFORM_PRESETS["instagram"].safe_zone_for(aspect)
    words = timings("Incomprehensibilities notwithstanding, 42 Straightforward explanations win")
    duration = words.last_end_s + 0.5
    path = write_captions(words, look_style(look, colours={"outline": "#FF0000"}),
                          tmp_path / "c.ass", width=width, height=height, safe_zone=zone,
                          duration_s=duration).path  # fmt: skip
    safe = Box(zone.left * width, zone.top * height, (1 - zone.right) * width,
               (1 - zone.bottom) * height)  # fmt: skip
    times = [w.start_s + 0.2 for w in words.words]
    for t, frame in zip(times, render_frames(path, times, duration, size=(width, height)),
                        strict=True):  # fmt: skip
        box = ink_box(frame)
        assert box is not None and safe.contains(box, tolerance_px=1.0), (t, box, safe)


def _frame_at(tmp_path, look: str, t: float, words: WordTimings, **fields) -> np.ndarray:
    end = words.last_end_s + 0.5
    captions = write_captions(words, look_style(look, **fields), tmp_path / "c.ass", width=W,
                              height=H, safe_zone=ZONE, duration_s=end)  # fmt: skip
    path = captions.path
    (frame,) = render_frames(path, [t], words.last_end_s + 0.5)
    return frame


def test_boxed_frame_shows_the_box_behind_the_spoken_word_only(tmp_path):
    words = timings("alpha bravo charlie", step_s=0.6)
    word = words.words[1]
    frame = _frame_at(tmp_path, "boxed", word.start_s + 0.3, words, emphasis="none")
    pink = rgb(frame, "#FF2D95")
    box = ink_box(frame, pink)
    assert box is not None and pink.sum() > 500
    subs = pysubs2.load(str(tmp_path / "c.ass"))
    x, _ = map(float, _POS.search(next(e for e in subs.events if e.plaintext == "bravo")
                                  .text).groups())  # fmt: skip
    assert abs((box.left + box.right) / 2 - x) < 4  # under "bravo", not the others
    white = rgb(frame, "#FFFFFF", 40)
    assert white[int(box.top) : int(box.bottom), int(box.left) : int(box.right)].sum() > 100
    # rounded: the box's corner pixel is not filled, its edge's middle is
    assert not pink[int(box.top) + 1, int(box.left) + 1]
    assert pink[int(box.top) + 2, int((box.left + box.right) / 2)]


@pytest.mark.parametrize(
    "text, from_left",
    [
        ("Extraordinarily", True),
        # right to left (Arabic): \kf would fill it left to right; the sweep starts at the right
        ("\u0627\u0644\u0627\u0633\u062a\u0642\u0644\u0627\u0644\u064a\u0629", False),
    ],
)
def test_karaoke_frame_is_half_swept_mid_word(tmp_path, text, from_left):
    words = timings(text, step_s=2.0)
    word = words.words[0]
    frame = _frame_at(
        tmp_path, "karaoke", word.start_s + word.duration_s / 2, words, emphasis="none"
    )
    cyan, white = rgb(frame, "#00E5FF"), rgb(frame, "#FFFFFF", 40)
    ink = ink_box(frame, cyan | white)
    middle = (ink.left + ink.right) / 2
    swept, unswept = np.median(np.nonzero(cyan)[1]), np.median(np.nonzero(white)[1])
    assert cyan.sum() > 200 and white.sum() > 200
    assert (swept < middle < unswept) if from_left else (unswept < middle < swept)


def test_bold_and_emphasis_colours_are_drawn(tmp_path):
    words = timings("Today 42 people cheered", step_s=0.6)
    spoken = words.words[2]
    frame = _frame_at(tmp_path, "bold", spoken.start_s + 0.3, words, words_per_caption=4)
    assert rgb(frame, "#3CFF00").sum() > 200  # the spoken word in the accent colour
    assert rgb(frame, "#00D1FF").sum() > 200  # "42", emphasised, in the emphasis colour
    plain = _frame_at(
        tmp_path, "bold", spoken.start_s + 0.3, words, words_per_caption=4, emphasis="none"
    )
    assert rgb(plain, "#00D1FF").sum() < 20
