"""Captions in every script: bundled fonts only, no tofu, drawn inside the safe zone."""

from __future__ import annotations

import itertools

import numpy as np
import pysubs2
import pytest

from reelflow.engine import ffmpeg
from reelflow.engine.captions.ass import write_captions
from reelflow.engine.captions.fonts import (
    bundled_fonts,
    cjk_font,
    fonts_dir,
    matched_size,
    resolve_font,
    text_width,
    uncovered_chars,
)
from reelflow.engine.text import tokenize
from reelflow.engine.timing import WordTiming, WordTimings
from reelflow.presets import CaptionStyle
from tests.engine.test_captions_render import _POS, SAFE, ZONE, W, ink_box, render_frames

SAMPLES = {
    "zh-Hans": "我们今天 学习 中文字幕",
    "zh-Hant": "我們今天 學習 中文字幕",
    "ja": "今日は いい 天気ですね",
    "ko": "오늘은 날씨가 좋네요",
    "hi": "नमस्ते दुनिया क्षत्रिय",
    "bn": "আমার সোনার বাংলা",
    "ta": "வணக்கம் உலகம்",
    "th": "สวัสดี ครับ ภาษาไทย",
    "ar": "مرحبا بالعالم",
    "he": "שלום עולם",
    "ru": "Привет мир",
    "el": "Γειά σου κόσμε",
    "mixed": "Hello مرحبا world",
    "emoji": "Great job 😀 👍",
}


def _timings(text: str) -> WordTimings:
    words = tuple(WordTiming(w, 0.1 + i * 0.4, 0.45 + i * 0.4) for i, w in enumerate(text.split()))
    return WordTimings(words=words, method="synthesized")


def _write(tmp_path, text: str, **style):
    return write_captions(
        _timings(text),
        CaptionStyle(**style),
        tmp_path / "c.ass",
        width=W,
        height=960,
        safe_zone=ZONE,
        duration_s=0.3 + 0.4 * len(text.split()),
    )


@pytest.mark.parametrize("script", sorted(SAMPLES))
def test_every_script_is_covered_and_drawn_inside_the_safe_zone(tmp_path, script):
    text = SAMPLES[script]
    assert uncovered_chars(text) == []
    captions = _write(tmp_path, text, words_per_caption=8)
    assert captions.warnings == ()
    duration_s = 0.3 + 0.4 * len(text.split())
    (frame,) = render_frames(captions.path, [duration_s - 0.1], duration_s)
    box = ink_box(frame)
    assert box is not None and SAFE.contains(box, tolerance_px=1.0), (box, SAFE)


def test_uncovered_characters_are_reported_and_left_out(tmp_path):
    captions = _write(tmp_path, "Egypt \U00013000 hieroglyph\U00013001")
    assert len(captions.warnings) == 2 and "U+13000" in captions.warnings[0]
    text = "".join(e.plaintext for e in pysubs2.load(str(captions.path)).events)
    assert "\U00013000" not in text and "hieroglyph" in text


def test_cjk_face_follows_kana_hangul_or_the_language():
    assert cjk_font("今日は").family == "Noto Sans JP"
    assert cjk_font("한국어").family == "Noto Sans KR"
    assert cjk_font("中文").family == "Noto Sans SC"
    assert cjk_font("中文", language="zh-TW").family == "Noto Sans TC"
    assert cjk_font("日本", language="ja").family == "Noto Sans JP"
    assert cjk_font("plain English") is None


def test_ffmpeg_sees_only_the_bundled_fonts(tmp_path, monkeypatch):
    # No `fontsdir`: libass finds fonts only through fontconfig, which fonts.conf confines
    # to the bundled folder. Bundled-only must draw exactly what fontsdir (memory fonts) draws,
    # and an empty fontconfig must draw nothing: so the fonts come from our folder, not the system.
    captions = _write(tmp_path, "中文 नमस्ते 😀", words_per_caption=8, animation="fade")

    def frame(with_fontsdir: bool) -> np.ndarray:
        extra = f":fontsdir={fonts_dir()}" if with_fontsdir else ""
        raw = ffmpeg.run_to_bytes(
            ["-f", "lavfi", "-i", f"color=black:s={W}x960:d=1.6", "-vf",
             f"ass=filename={captions.path}{extra}", "-ss", "1.4", "-frames:v", "1",
             "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
        )  # fmt: skip
        return np.frombuffer(raw, np.uint8).reshape(960, W, 3)

    bundled = frame(False)
    assert ink_box(bundled) is not None
    assert np.array_equal(bundled, frame(True))
    empty = tmp_path / "empty.conf"
    empty.write_text("<fontconfig></fontconfig>")
    monkeypatch.setattr(ffmpeg, "_fonts_conf", lambda: empty)
    assert ink_box(frame(False)) is None


def test_bundled_fonts_cover_the_scripts_they_are_for():
    families = {f.family for f in bundled_fonts()}
    for family in ("Noto Sans SC", "Noto Sans TC", "Noto Sans JP", "Noto Sans KR", "Noto Emoji"):
        assert family in families
    assert sum(f.path.stat().st_size for f in bundled_fonts()) < 13e6


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我们今天学习中文字幕。你好！", ("我们", "今天", "学习", "中文字幕。", "你好！")),
        ("「今日は」いい天気ですね。", ("「今日は」", "いい", "天気ですね。")),
        ("สวัสดีครับ วันนี้อากาศดี", ("สวัสดี", "ครับ", "วันนี้", "อากาศ", "ดี")),
    ],
)
def test_unspaced_writing_is_cut_into_words_with_punctuation_attached(text, expected):
    assert tokenize(text) == expected


def test_cjk_lines_break_between_words_without_spaces_and_highlight_each_word(tmp_path):
    text = "我们今天一起学习怎样制作中文字幕，这样每个观众都能看懂视频的内容。"
    tokens = tokenize(text)
    words = WordTimings(
        words=tuple(WordTiming(t, 0.1 + i * 0.3, 0.35 + i * 0.3) for i, t in enumerate(tokens)),
        method="synthesized",
    )
    style = CaptionStyle(animation="highlight", words_per_caption=12, max_lines=2, size_px=110)
    captions = write_captions(
        words, style, tmp_path / "c.ass", width=W, height=960, safe_zone=ZONE, duration_s=5.0
    )
    events = [e for e in pysubs2.load(str(captions.path)).events if e.layer == 0]
    placed = list(
        dict.fromkeys((e.plaintext, *map(float, _POS.search(e.text).groups())) for e in events)
    )
    rows = sorted({round(y) for _, _, y in placed})
    assert len(rows) >= 2  # too wide for one line at this size
    for text_, *_ in placed:
        assert text_[0] not in "，。！？、」』）"  # no word (so no line) starts with a closing mark
    # Neighbours on a line touch: no space is drawn between Chinese words.
    first = [(t, x) for t, x, y in placed if round(y) == rows[0]]
    sc = resolve_font("Noto Sans SC")
    size = matched_size(sc, resolve_font("Noto Sans"), 110 * W / 1080)
    for (a, xa), (b, xb) in itertools.pairwise(first):
        wa, wb = text_width(a, sc, size), text_width(b, sc, size)
        gap = (xb - wb / 2) - (xa + wa / 2)
        # only the room the highlight's growth needs, no space character
        grow_room = (style.animation_settings()["scale"] - 1) * max(wa, wb) / 2
        assert abs(gap - grow_room) < 0.5, (a, b, gap, grow_room)
    duration_s = 5.0
    mids = [(w.start_s + w.end_s) / 2 for w in words.words[:4]]
    highlight_boxes = []
    for frame in render_frames(captions.path, mids, duration_s):
        r, g, b = (frame[..., c].astype(int) for c in range(3))
        box = ink_box(frame, (r > 180) & (g > 150) & (b < 90))
        assert box is not None
        highlight_boxes.append(box)
    # The highlight moves word by word, left to right.
    assert all(b.left > a.left for a, b in itertools.pairwise(highlight_boxes))


@pytest.mark.parametrize("script", sorted(SAMPLES))
def test_each_script_highlights_the_spoken_word_and_draws_it_as_it_draws_alone(tmp_path, script):
    text = SAMPLES[script]
    captions = _write(tmp_path, text, words_per_caption=8, animation="highlight", size_px=70)
    subs = pysubs2.load(str(captions.path))
    words = _timings(text).words
    centres = {}
    for e in subs.events:
        if e.layer:
            centres.setdefault(e.plaintext, tuple(map(float, _POS.search(e.text).groups())))
    duration_s = 0.3 + 0.4 * len(words)
    mids = [(w.start_s + w.end_s) / 2 for w in words]
    full = render_frames(captions.path, mids, duration_s)
    for w, frame in zip(words, full, strict=True):
        r, g, b = (frame[..., c].astype(int) for c in range(3))
        box = ink_box(frame, (r > 180) & (g > 150) & (b < 90))  # the highlight colour
        assert box is not None, w.word
        x, y = centres[w.word]
        assert box.left - 4 <= x <= box.right + 4 and box.top - 4 <= y <= box.bottom + 4, w.word
    # The last frame shows every word white: the same pixels as each word's events drawn alone.
    t_end = words[-1].end_s + 0.2
    (together,) = render_frames(captions.path, [t_end], duration_s)
    alone = np.zeros_like(together)
    for word in {e.plaintext for e in subs.events}:
        single = pysubs2.load(str(captions.path))
        single.events = [e for e in single.events if e.plaintext == word]
        path = tmp_path / "single.ass"
        single.save(str(path))
        (frame,) = render_frames(path, [t_end], duration_s)
        alone = np.maximum(alone, frame)
    assert np.abs(together.astype(int) - alone.astype(int)).max() <= 8
