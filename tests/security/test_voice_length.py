"""An over-long voice fails on the probe's duration, before the worker decodes it.

Decoding is what costs: 20 minutes of 8 kHz, 8-bit audio is a 9.6 MB file and 230 MB of
float32 samples at 48 kHz. The run must fail with the platform's limit, naming the field, while
the memory Python allocated (numpy included, traced by tracemalloc) stays small.
"""

from __future__ import annotations

import tracemalloc
import wave
from pathlib import Path

import pytest

from reelflow.engine.errors import InputError
from reelflow.flows.local import run_reel
from reelflow.flows.runtime import RunContext
from reelflow.models import parse_spec


def _long_wav(path: Path, *, seconds: int, rate: int = 8_000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)  # 8-bit: the smallest file for the longest decode
        out.setframerate(rate)
        chunk = bytes([128, 140, 128, 116]) * (rate // 4)  # a quiet tone, one second
        for _ in range(seconds):
            out.writeframes(chunk)
    return path


def test_over_long_voice_fails_before_it_is_decoded(tmp_path, settings):
    voice = _long_wav(tmp_path / "long.wav", seconds=20 * 60)
    spec = parse_spec(
        {"voiceover": str(voice), "transcript": "long", "quality": "low", "platform": "tiktok"}
    )
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as caught:
            run_reel(spec, RunContext(output=tmp_path / "long.mp4"), settings=settings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.field == "voiceover"
    assert "1200.0 s is longer than tiktok's" in str(caught.value)
    assert peak < 40 * 2**20, f"{peak / 2**20:.0f} MB allocated: the voice was decoded"
    assert not list(settings.cache_dir.glob("prepare-voice/*/voice.wav"))
    assert not (tmp_path / "long.mp4").exists()
