"""Neural voice benchmark: Piper synthesis speed, and how well the aligner times its words.

    taskset -c 0 .venv/bin/python bench/piper_voice.py

Speed is seconds of speech per CPU second of synthesis (all threads counted, so it is the
one-core figure even where onnxruntime spreads work), with the model already loaded.
Alignment: reel word starts come from aligning Piper's audio to its text (`align()`); the
reference is Piper's own phoneme durations (needs the `onnx` package, piper-tts[alignment]),
a word starting where the previous word's last phoneme ends (at its word-boundary token).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reelflow.engine.alignment.align import align
from reelflow.engine.speech.piper import installed_voices

TEXT = (
    "Captions land on every word. Music ducks under the voice, and the reel is ready to post "
    "in seconds. Neural voices sound natural when the timing is right. Most people decide "
    "within three seconds whether to keep watching, so the first line has to earn the second. "
    "Keep it short, say one thing, and end with a question your viewers want to answer."
)
PUNCTUATION = set(".,;:!?")


def reference_starts(chunks) -> list[float]:
    """Word starts from Piper's phoneme durations (the boundary token opens each word)."""
    starts: list[float] = []
    offset = 0
    for chunk in chunks:
        rate = chunk.sample_rate
        pos, boundary_at = offset, offset
        pending = True
        for ph in chunk.phoneme_alignments:
            if ph.phoneme in ("^", "$"):
                pos += int(ph.num_samples)
                boundary_at, pending = pos, ph.phoneme == "^"
                continue
            if ph.phoneme == " ":
                boundary_at, pending = pos, True
                pos += int(ph.num_samples)
                continue
            if pending and ph.phoneme not in PUNCTUATION:
                starts.append(boundary_at / rate)
                pending = False
            pos += int(ph.num_samples)
        offset += len(chunk.audio_float_array)
    return starts


def main() -> None:
    from piper import PiperVoice

    files = installed_voices()["joe"]
    voice = PiperVoice.load(files.model, config_path=files.config, include_alignments=True)
    list(voice.synthesize("Warm up."))
    cpu = time.process_time()
    wall = time.perf_counter()
    chunks = list(voice.synthesize(TEXT, include_alignments=True))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    rate = chunks[0].sample_rate
    audio = np.concatenate([c.audio_float_array for c in chunks])
    seconds = audio.size / rate
    print(f"synthesis: {seconds:.1f} s of speech in {cpu:.2f} s CPU ({wall:.2f} s wall): "
          f"{seconds / cpu:.1f}x real time per core")  # fmt: skip
    reference = reference_starts(chunks)
    words = align(soxr.resample(audio, rate, 16_000), 16_000, TEXT)
    if len(reference) != len(words):
        print(f"reference has {len(reference)} words, the text {len(words)}: no comparison")
        return
    errors_ms = np.array(
        [(w.start_s - r) * 1000 for w, r in zip(words.words, reference, strict=True)]
    )
    timed = sum(w.end_s > w.start_s for w in words.words)
    print(f"alignment ({words.method}): {timed}/{len(words)} words timed; word-start error vs "
          f"Piper's phoneme durations: median |e| {np.median(np.abs(errors_ms)):.0f} ms, "
          f"median e {np.median(errors_ms):+.0f} ms, p90 |e| "
          f"{np.percentile(np.abs(errors_ms), 90):.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
