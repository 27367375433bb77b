"""Where the speech is, and long silences shortened before decoding (with times mapped back).

The recogniser normalises each window by its mean cepstrum, so a recording that is mostly
silence (pauses between takes, a long intro) skews that mean and every word scores worse;
decoding silence also costs time. We keep `KEEP_S` of silence on each side of every pause and
cut the rest, remembering where each kept piece came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reelflow.engine.audio import Segment, speech_activity

KEEP_S = 0.3  # silence kept at each side of a pause (the aligner needs some to see a pause)
MIN_GAP_S = 1.0  # pauses shorter than this stay as they are
RATE = 16_000
FRAME = 160
ACTIVITY_CHUNK_S = 60.0  # speech detection adapts its threshold per minute of audio
BRIDGE_S = 0.18  # as `audio.speech_activity`: gaps shorter than this join two segments


def speech_segments(pcm: np.ndarray) -> tuple[Segment, ...]:
    """`audio.speech_activity` of int16 16 kHz audio, a minute at a time (bounded memory,
    and a threshold that follows the recording level as it drifts)."""
    chunk = round(ACTIVITY_CHUNK_S * RATE)
    found: list[Segment] = []
    for a in range(0, pcm.size, chunk):
        part = pcm[a : a + chunk].astype(np.float32) / np.float32(32768.0)
        offset = a / RATE
        for seg in speech_activity(part, RATE):
            start, end = seg.start_s + offset, seg.end_s + offset
            if found and start - found[-1].end_s < BRIDGE_S:
                found[-1] = Segment(found[-1].start_s, end)
            else:
                found.append(Segment(start, end))
    return tuple(found)


@dataclass(frozen=True)
class TimeMap:
    """Where the pieces of the condensed audio came from, in whole 10 ms frames."""

    kept_starts: np.ndarray  # frame index of each piece in the condensed audio
    orig_starts: np.ndarray  # frame index of the same piece in the original audio

    def to_original(self, frame: int) -> int:
        """Original frame of condensed `frame` (frames are never moved inside a piece)."""
        piece = max(0, int(np.searchsorted(self.kept_starts, frame, side="right")) - 1)
        return int(frame - self.kept_starts[piece] + self.orig_starts[piece])


def condense(pcm: np.ndarray, speech: Sequence[Segment]) -> tuple[np.ndarray, TimeMap]:
    """Cut long non-speech stretches (the gaps around `speech`) down to 2 x `KEEP_S`."""
    total = pcm.size // FRAME
    keep = round(KEEP_S * RATE / FRAME)
    cuts: list[tuple[int, int]] = []  # [start, end) frames to drop
    edges = [0.0, *(t for s in speech for t in (s.start_s, s.end_s)), total * FRAME / RATE]
    for gap_start, gap_end in zip(edges[::2], edges[1::2], strict=True):
        a, b = int(gap_start * RATE / FRAME), int(gap_end * RATE / FRAME)
        if (b - a) * FRAME / RATE >= MIN_GAP_S:
            lo = a + keep if a > 0 else a + keep // 2  # keep less silence at the very ends
            hi = b - keep if b < total else b - keep // 2
            if hi > lo:
                cuts.append((lo, hi))
    if not cuts:
        return pcm, TimeMap(np.array([0]), np.array([0]))
    pieces, kept_starts, orig_starts = [], [], []
    pos = kept = 0
    for lo, hi in [*cuts, (total, total)]:
        if lo > pos:
            pieces.append(pcm[pos * FRAME : lo * FRAME])
            kept_starts.append(kept)
            orig_starts.append(pos)
            kept += lo - pos
        pos = hi
    return np.concatenate(pieces), TimeMap(np.array(kept_starts), np.array(orig_starts))
