"""Pause trimming: the cut plan, the shortened samples and the moved word timings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import soundfile as sf

from reelflow.engine.audio import speech_activity
from reelflow.engine.errors import InputError
from reelflow.engine.speech.pauses import Cuts, apply_cuts, plan_pause_cuts
from reelflow.engine.timing import WordTiming, WordTimings
from tests import mediatools

RATE = 48_000
SPANS = [(1.0, 2.0), (3.5, 4.2), (4.5, 5.0), (7.0, 8.0)]  # gaps: 1.0 lead, 1.5, 0.3, 2.0, 1.5 tail


@pytest.fixture(scope="module")
def voice(tmp_path_factory) -> np.ndarray:
    path = tmp_path_factory.mktemp("pauses") / "v.wav"
    mediatools.speech_like(path, SPANS, seconds=9.5)
    samples, _ = sf.read(path, dtype="float32")
    return samples


def _gaps(samples: np.ndarray) -> list[float]:
    speech = speech_activity(samples, RATE)
    total = samples.shape[0] / RATE
    inner = [b.start_s - a.end_s for a, b in itertools.pairwise(speech)]
    return [speech[0].start_s, *inner, total - speech[-1].end_s]


def test_every_long_pause_is_shortened_to_the_limit_and_short_ones_stay(voice) -> None:
    cuts = plan_pause_cuts(voice, RATE, max_pause_s=0.4, grid_s=1 / 30)
    trimmed = apply_cuts(voice, RATE, cuts)
    assert trimmed.shape[0] == round(cuts.duration_s * RATE)
    before, after = _gaps(voice), _gaps(trimmed)
    assert len(before) == len(after) == 5
    for old, new in zip(before, after, strict=True):
        if old > 0.4 + 0.05:
            assert abs(new - 0.4) <= 0.05, (before, after)
        else:
            assert abs(new - old) <= 0.02, (before, after)  # the 0.3 s pause is kept whole
    assert cuts.removed_s == pytest.approx(sum(max(0.0, g - 0.4) for g in before), abs=0.15)
    # boundaries on the frame grid, so a picture cut at frames removes the same time
    for seg in cuts.kept[:-1]:
        for t in (seg.start_s, seg.end_s):
            assert abs(t * 30 - round(t * 30)) < 1e-6


def test_speech_itself_is_kept_sample_for_sample(voice) -> None:
    cuts = plan_pause_cuts(voice, RATE, max_pause_s=0.4, grid_s=0.01)
    trimmed = apply_cuts(voice, RATE, cuts)
    for a, b in SPANS:
        mid = (a + b) / 2  # inside a phrase: away from the faded joints
        src = round(mid * RATE)
        dst = round(cuts.map_time(mid) * RATE)
        assert np.array_equal(voice[src : src + 480], trimmed[dst : dst + 480])


def test_word_timings_move_with_the_cuts() -> None:
    cuts = Cuts(kept=(_seg(0.5, 2.0), _seg(3.0, 4.0)), source_duration_s=5.0)
    assert cuts.duration_s == pytest.approx(2.5)
    assert [cuts.map_time(t) for t in (0.0, 0.5, 1.0, 2.5, 3.0, 3.5, 4.9)] == pytest.approx(
        [0.0, 0.0, 0.5, 1.5, 1.5, 2.0, 2.5]
    )
    words = WordTimings((WordTiming("a", 0.6, 1.0), WordTiming("b", 3.2, 3.6)), "aligned")
    moved = cuts.map_words(words)
    times = [t for w in moved.words for t in (w.start_s, w.end_s)]
    assert times == pytest.approx([0.1, 0.5, 1.7, 2.1])
    assert moved.details["pauses_removed_s"] == pytest.approx(2.5)


def test_silence_and_bad_limits() -> None:
    silent = np.zeros(RATE * 2, dtype=np.float32)
    cuts = plan_pause_cuts(silent, RATE, max_pause_s=0.3)
    assert cuts.is_identity and apply_cuts(silent, RATE, cuts) is silent
    with pytest.raises(InputError, match="trim_pauses_over_s"):
        plan_pause_cuts(silent, RATE, max_pause_s=0)


def _seg(a: float, b: float):
    from reelflow.engine.audio import Segment

    return Segment(a, b)
