"""Captions: grouping, timing, layout and the ASS each animation writes, read back with pysubs2."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pysubs2
import pytest

from reelflow.engine.captions.ass import build_captions, fonts_dir, group_words, write_captions
from reelflow.engine.captions.fonts import bundled_fonts, resolve_font
from reelflow.engine.captions.layout import Box, LayoutRules, layout_words
from reelflow.engine.errors import InputError
from reelflow.engine.timing import WordTiming, WordTimings
from reelflow.presets import CAPTION_ANIMATIONS, PLATFORM_PRESETS, CaptionColours, CaptionStyle

W, H = 540, 960
ZONE = PLATFORM_PRESETS["instagram"].safe_zone
SAFE = Box(ZONE.left * W, ZONE.top * H, (1 - ZONE.right) * W, (1 - ZONE.bottom) * H)
ANIMATIONS = sorted(CAPTION_ANIMATIONS)
# Starts deliberately off the centisecond grid (x.xx69 s): truncating would miss by ~7 ms.
TEXT = "Captions follow every spoken word. They wrap neatly inside safe zones nowhere else"
_POS = re.compile(r"\\(?:pos|move)\(([-\d.]+),([-\d.]+)")


def timings(text: str = TEXT, *, start_s: float = 0.2069, step_s: float = 0.3412) -> WordTimings:
    words = tuple(
        WordTiming(w, start_s + i * step_s, start_s + i * step_s + 0.8 * step_s)
        for i, w in enumerate(text.split())
    )
    return WordTimings(words=words, method="synthesized")


def build(words: WordTimings, duration_s: float = 30.0, **style) -> pysubs2.SSAFile:
    return build_captions(
        words, CaptionStyle(**style), width=W, height=H, safe_zone=ZONE, duration_s=duration_s
    )


def roundtrip(tmp_path: Path, words: WordTimings, duration_s: float = 30.0, **style):
    path = write_captions(
        words,
        CaptionStyle(**style),
        tmp_path / "captions.ass",
        width=W,
        height=H,
        safe_zone=ZONE,
        duration_s=duration_s,
    ).path
    return pysubs2.load(str(path), encoding="utf-8")


def events_by_word(subs: pysubs2.SSAFile) -> dict[str, list[pysubs2.SSAEvent]]:
    out: dict[str, list[pysubs2.SSAEvent]] = {}
    for event in subs.events:
        out.setdefault(event.plaintext, []).append(event)
    return out


def test_fonts_dir_holds_the_bundled_fonts():
    names = {p.name for p in fonts_dir().glob("*.ttf")}
    assert {"NotoSans-Bold.ttf", "NotoSansArabic-Bold.ttf", "NotoSansHebrew-Bold.ttf"} <= names
    assert next(f.family for f in bundled_fonts()) == "Noto Sans"
    assert resolve_font("noto sans arabic").family == "Noto Sans Arabic"
    assert resolve_font("Comic Sans").family == "Noto Sans"  # unknown: the bundled default


def test_script_resolution_and_style_scale_with_the_output(tmp_path):
    subs = roundtrip(tmp_path, timings())
    assert (subs.info["PlayResX"], subs.info["PlayResY"]) == (str(W), str(H))
    style = subs.styles["Caption"]
    assert style.fontname == "Noto Sans" and style.bold
    assert style.fontsize == pytest.approx(CaptionStyle().size_px * W / 1080)
    assert style.outline == pytest.approx(5 * W / 1080)
    assert (style.primarycolor.r, style.primarycolor.g, style.primarycolor.b) == (255, 255, 255)


@pytest.mark.parametrize("animation", ANIMATIONS)
def test_each_word_first_appears_on_its_spoken_start(tmp_path, animation):
    words = timings()
    by_word = events_by_word(roundtrip(tmp_path, words, animation=animation))
    for w in words.words:
        events = by_word[w.word]
        starts = [e.start for e in events]
        # Rounded to the centisecond, never truncated: within 5 ms of the true start.
        assert any(abs(s - w.start_s * 1000) <= 5 for s in starts), (w, starts)
        # highlight and karaoke show the whole caption before its words
        if animation not in ("highlight", "karaoke"):
            assert min(starts) >= w.start_s * 1000 - 5


@pytest.mark.parametrize("animation", ANIMATIONS)
def test_no_event_outside_the_reel(tmp_path, animation):
    words = timings()
    duration_s = 3.3  # cuts the speech off mid-caption
    subs = roundtrip(tmp_path, words, duration_s, animation=animation)
    assert subs.events
    for event in subs.events:
        assert 0 <= event.start < event.end <= duration_s * 1000
    shown = {e.plaintext for e in subs.events}
    assert shown == {w.word for w in words.words if w.start_s < duration_s}


def test_groups_respect_count_sentences_and_pauses():
    words = list(timings().words)
    groups = group_words(words, max_words=3)
    assert all(1 <= len(g) <= 3 for g in groups)
    assert [w for g in groups for w in g] == words
    for g in groups:  # a sentence end only ever closes a group
        assert not any(w.word.endswith(".") for w in g[:-1])
    assert [w.word for w in groups[1]] == ["spoken", "word."]
    paused = [WordTiming("one", 0, 0.3), WordTiming("two", 0.35, 0.6), WordTiming("three", 1.3, 2)]
    assert [len(g) for g in group_words(paused, max_words=3)] == [2, 1]


def test_captions_lead_hold_and_never_overlap(tmp_path):
    words = timings("One two three four five. Six seven", step_s=0.5)
    subs = roundtrip(tmp_path, words, animation="highlight", words_per_caption=3)
    groups = group_words(words.words, max_words=3)
    ranges = []
    for group in groups:
        names = {w.word for w in group}
        events = [e for e in subs.events if e.plaintext in names]
        ranges.append((min(e.start for e in events), max(e.end for e in events)))
    prev_end = 0
    for (start, end), group, nxt in zip(ranges, groups, [*groups[1:], None], strict=True):
        assert start == pytest.approx(max(group[0].start_s * 1000 - 50, prev_end), abs=5)
        hold_end = group[-1].end_s * 1000 + 400
        assert end == pytest.approx(min(hold_end, nxt[0].start_s * 1000 if nxt else 1e9), abs=5)
        assert start >= prev_end
        prev_end = end
    # Gaps of 0.1 s between words: the next caption starts as the previous one is cut short.
    assert ranges[0][1] == ranges[1][0]


def test_highlight_colours_and_scales_only_the_spoken_word(tmp_path):
    words = timings()
    subs = roundtrip(tmp_path, words, animation="highlight")
    yellow = "\\1c&H00D4FF&"  # #FFD400 as &HBBGGRR&
    for w in words.words:
        active = [e for e in subs.events if e.plaintext == w.word and e.layer == 1]
        assert len(active) == 1
        assert yellow in active[0].text and "\\fscx115" in active[0].text
        assert active[0].start == pytest.approx(w.start_s * 1000, abs=5)


def test_wave_keyframes_are_continuous_and_within_amplitude(tmp_path):
    subs = roundtrip(tmp_path, timings(), animation="wave")
    for word, events in events_by_word(subs).items():
        events.sort(key=lambda e: e.start)
        assert len(events) > 3, word
        coords = [
            re.search(r"\\move\(([-\d.]+),([-\d.]+),([-\d.]+),([-\d.]+)", e.text) for e in events
        ]
        ys = [(float(m[2]), float(m[4])) for m in coords]
        for (_a, b), (c, _) in itertools.pairwise(ys):
            assert b == c  # each keyframe starts where the last one ended
        for prev, nxt in itertools.pairwise(events):
            assert prev.end == nxt.start and nxt.end - nxt.start <= 80
        centre = (max(y for y, _ in ys) + min(y for y, _ in ys)) / 2
        assert all(abs(y - centre) <= 10 * W / 1080 + 0.1 for y, _ in ys)


def test_typewriter_reveals_every_letter_by_the_word_end(tmp_path):
    words = timings()
    subs = roundtrip(tmp_path, words, animation="typewriter")
    by_word = events_by_word(subs)
    for w in words.words:
        (event,) = by_word[w.word]
        reveals = [int(t) for t in re.findall(r"\\t\((\d+),\d+,\\alpha&H00&\)", event.text)]
        assert len(reveals) == len(w.word) - 1
        assert reveals == sorted(reveals)
        assert max(reveals) + event.start <= w.end_s * 1000 + 5


def test_layout_wraps_to_two_lines_inside_the_safe_zone():
    base = resolve_font("Noto Sans")
    rules = LayoutRules(SAFE, "bottom", 2, pad_px=3.5, grow=1.15)
    texts = [
        "Extraordinarily",
        "comprehensive",
        "internationalization",
        "considerations",
        "everywhere",
    ]
    layouts = layout_words(texts, base, 42.0, rules)
    assert len(layouts) > 1  # five long words cannot share two lines: the group is split
    assert [w.text for lay in layouts for w in lay.words] == texts
    for lay in layouts:
        assert lay.lines <= 2 and lay.size_px == 42.0
        assert SAFE.contains(lay.extent)
        assert len({w.y for w in lay.words}) == lay.lines
        for w in lay.words:
            assert (
                SAFE.left <= w.x - 1.15 * w.width_px / 2
                and w.x + 1.15 * w.width_px / 2 <= SAFE.right
            )


def test_a_word_too_long_for_the_line_shrinks_to_fit():
    base = resolve_font("Noto Sans")
    rules = LayoutRules(SAFE, "center", 2, pad_px=3.5)
    word = "Pneumonoultramicroscopicsilicovolcanoconiosis"
    (layout,) = layout_words([word], base, 42.0, rules)
    assert 0 < layout.size_px < 42.0
    assert SAFE.contains(layout.extent)
    assert layout.extent.right - layout.extent.left > 0.9 * (SAFE.right - SAFE.left)


@pytest.mark.parametrize("position", ["top", "center", "bottom"])
def test_positions_keep_every_word_inside_the_safe_zone(position):
    words = timings("Short words here then considerably lengthier vocabulary appears")
    subs = build(words, animation="bounce", position=position, words_per_caption=6)
    ys = []
    for event in subs.events:
        x, y = map(float, _POS.search(event.text).groups())
        assert SAFE.left < x < SAFE.right and SAFE.top < y < SAFE.bottom
        ys.append(y)
    middle = (SAFE.top + SAFE.bottom) / 2
    if position == "top":
        assert max(ys) < middle
    elif position == "bottom":
        assert min(ys) > middle


def test_rtl_words_use_their_own_font_and_read_right_to_left():
    words = timings("مرحبا بالعالم שלום")
    subs = build(words, animation="typewriter")
    texts = [e.text for e in subs.events]
    assert "\\fnNoto Sans Arabic" in texts[0] and "\\fnNoto Sans Hebrew" in texts[2]
    xs = [float(_POS.search(t).group(1)) for t in texts]
    assert xs[0] > xs[1] > xs[2]  # first word on the right
    for animation in ANIMATIONS:
        assert build(words, animation=animation).events


def test_ass_syntax_in_words_is_neutralised():
    words = timings("a{\\b1}b back\\slash")
    subs = build(words, animation="fade")
    assert [e.plaintext for e in subs.events] == ["a(/b1)b", "back/slash"]


def test_no_words_gives_an_empty_but_valid_file(tmp_path):
    empty = WordTimings(words=(), method="estimated")
    subs = roundtrip(tmp_path, empty)
    assert len(subs.events) == 0 and "Caption" in subs.styles


def test_unknown_animation_and_bad_colour_are_input_errors(tmp_path):
    with pytest.raises(InputError) as err:
        build(timings(), animation="sparkle")
    assert err.value.field == "captions.animation"
    with pytest.raises(InputError) as err:
        build(timings(), colours=CaptionColours(primary="white"))
    assert err.value.field == "captions.colours"
    target = tmp_path / "never.ass"
    with pytest.raises(InputError):
        write_captions(
            timings(),
            CaptionStyle(animation="sparkle"),  # type: ignore[arg-type]
            target,
            width=W,
            height=H,
            safe_zone=ZONE,
            duration_s=5,
        )
    assert not target.exists() and not list(tmp_path.iterdir())


def test_a_long_reel_stays_inside_its_duration():
    words = timings(" ".join(["word"] * 400), step_s=0.3)
    for animation in ANIMATIONS:
        subs = build(words, duration_s=119.5, animation=animation)
        assert subs.events and max(e.end for e in subs.events) <= 119_500
        assert min(e.start for e in subs.events) >= 0
