"""The audio half of the render graph: voice, ducked music, loudness normalisation.

`plan_mix` decides everything the mix needs (music start and gain, the ducking envelope, and the
gain that brings the exact mix to the platform's loudness: one linear gain and a true-peak
limiter). A linear gain keeps the ducking depth intact; ``loudnorm``'s dynamic mode would lift the
music in every pause.

The audio-only pass that measures the final mix also writes it (48 kHz stereo float WAV), so the
render only encodes it to AAC. In the render's one filter graph the audio chain (compressor,
ducking, 4x-oversampled limiter) ran on the same thread as the picture and cost ~25 % of its
wall time; now an edit that re-renders (new captions, effects or background) does not redo it.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import ffmpeg as ffm

from reelflow.engine import ffmpeg
from reelflow.engine.audio import Loudness, measure_loudness, parse_ebur128

SAMPLE_RATE = 48_000
# Gentle voice compression: even levels read better on phone speakers and leave headroom to
# reach -14 LUFS with little limiting.
VOICE_COMPRESSOR = {
    "threshold": "-24dB",
    "ratio": "3",
    "attack": "5",
    "release": "120",
    "makeup": "2",
}
# The limiter runs 4x oversampled so it catches inter-sample peaks; AAC encoding raises true
# peaks a little more, so it sits this far below the platform's ceiling.
TRUE_PEAK_MARGIN_DB = 1.0
OVERSAMPLED_RATE = 4 * SAMPLE_RATE
# Normalised passes at most (each one measures and writes the mix); two almost always suffice.
GAIN_PASSES = 3
# The track starts mid-bar (so a strong beat meets the first word) and ends with the voice.
MUSIC_FADE_IN_S = 0.3
MUSIC_FADE_OUT_S = 1.5  # the limiter takes a little loudness off: measure once more and correct


@dataclass(frozen=True)
class MixPlan:
    """Everything the render needs to mix the audio; a pure function of the inputs."""

    voice_path: Path
    duration_s: float
    music_path: Path | None = None
    music_start_s: float = 0.0
    music_gain_db: float = -16.5
    envelope_path: Path | None = None
    target_lufs: float = -14.0
    true_peak_dbtp: float = -1.0
    gain_db: float = 0.0
    loudness: Loudness | None = None  # of the normalised mix, as planned
    mixed_path: Path | None = None  # the normalised mix, written by the pass that measured it


def music_gain_db(volume: float, *, voice_lufs: float, music_lufs: float) -> float:
    """Gain that puts the music `volume` (0..1, 1 = as loud as the voice) relative to the voice.

    Relative to measured loudness, so a quiet custom track and a loud one sound the same at the
    same volume setting.
    """
    if volume <= 0:
        return -120.0
    if not (math.isfinite(music_lufs) and math.isfinite(voice_lufs)):
        return 20 * math.log10(volume)
    return 20 * math.log10(volume) + (voice_lufs - music_lufs)


@dataclass(frozen=True)
class Levels:
    """Integrated loudness of the voice and of the music track, as they are before the mix."""

    voice_lufs: float
    music_lufs: float | None = None


def measure_levels(voice_path: Path, music_path: Path | None) -> Levels:
    """Loudness of the voice and the music, measured side by side (two ffmpeg passes at once).

    Needs neither the word timings nor the speech activity, so the reel's DAG measures them
    while the words are being aligned; `plan_mix` then only measures the mix itself.
    """
    if music_path is None:
        return Levels(measure_loudness(voice_path, true_peak=False).integrated_lufs)
    with ThreadPoolExecutor(2, thread_name_prefix="reelflow-loudness") as pool:
        music = pool.submit(measure_loudness, music_path, true_peak=False)
        voice = measure_loudness(voice_path, true_peak=False)
        return Levels(voice.integrated_lufs, music.result().integrated_lufs)


def plan_mix(
    voice_path: Path,
    duration_s: float,
    *,
    music_path: Path | None,
    music_start_s: float,
    volume: float,
    envelope_path: Path | None,
    target_lufs: float,
    true_peak_dbtp: float,
    out_path: Path,
    levels: Levels | None = None,
) -> MixPlan:
    """Measure voice, music (unless `levels` has them) and the resulting mix; write the mix
    to `out_path` (WAV).

    Returns the plan, whose `mixed_path` is the finished audio the render encodes.
    """
    plan = MixPlan(
        voice_path=voice_path,
        duration_s=duration_s,
        music_path=music_path if volume > 0 else None,
        music_start_s=music_start_s,
        envelope_path=envelope_path if volume > 0 else None,
        target_lufs=target_lufs,
        true_peak_dbtp=true_peak_dbtp,
    )
    if plan.music_path is not None:
        if levels is None or levels.music_lufs is None:
            levels = measure_levels(voice_path, plan.music_path)
        gain = music_gain_db(volume, voice_lufs=levels.voice_lufs, music_lufs=levels.music_lufs)
        plan = replace(plan, music_gain_db=gain)
    return normalise(plan, out_path)


def normalise(plan: MixPlan, out_path: Path) -> MixPlan:
    """Find the gain that brings the limited mix to the target loudness and write that mix.

    One pass builds the raw mix (compressed voice, ducked and faded music), measures it and
    keeps it beside `out_path`; each normalised pass reads that file, applies the gain and the
    limiter while measuring, and writes the result, so the file kept is exactly the one whose
    loudness the plan records. Reading the raw mix skips decoding and compressing it again.
    """
    raw_path = out_path.with_name(f"{out_path.stem}-raw{out_path.suffix}")
    loudness = measure_mix(plan, normalised=False, out_path=raw_path)
    if not math.isfinite(loudness.integrated_lufs):
        plan = replace(plan, gain_db=0.0)  # silence stays silence
    else:
        plan = replace(plan, gain_db=plan.target_lufs - loudness.integrated_lufs)
    try:
        for attempt in range(1, GAIN_PASSES + 1):
            loudness = limit_mix(plan, raw_path, out_path)
            plan = replace(plan, loudness=loudness, mixed_path=Path(out_path))
            error = plan.target_lufs - loudness.integrated_lufs
            if not math.isfinite(error) or abs(error) < 0.2 or attempt == GAIN_PASSES:
                break
            plan = replace(plan, gain_db=plan.gain_db + error)
    finally:
        raw_path.unlink(missing_ok=True)
    return plan


def add_inputs(plan: MixPlan) -> tuple[ffm.nodes.FilterableStream, ...]:
    """Declare the mix's input files on an ffmpeg-python graph: voice, then music and envelope."""
    streams = [ffm.input(os.fspath(plan.voice_path)).audio]
    if plan.music_path is not None:
        # -stream_loop: a short custom track repeats instead of ending the music early.
        streams.append(ffm.input(os.fspath(plan.music_path), stream_loop=-1).audio)
        if plan.envelope_path is not None:
            streams.append(ffm.input(os.fspath(plan.envelope_path)).audio)
    return tuple(streams)


def _stereo(stream):
    return stream.filter("channelmap", map="FC-FL|FC-FR", channel_layout="stereo")


def audio_graph(plan: MixPlan, inputs: tuple, *, normalised: bool = True):
    """The mixed 48 kHz stereo audio stream built from `add_inputs` streams."""
    voice = (
        inputs[0]
        .filter("aresample", SAMPLE_RATE)
        .filter("aformat", sample_fmts="fltp", channel_layouts="mono")
        .filter("acompressor", **VOICE_COMPRESSOR)
    )
    voice = _stereo(voice).filter("apad").filter("atrim", duration=f"{plan.duration_s:.3f}")
    mixed = voice
    if plan.music_path is not None:
        music = (
            inputs[1]
            .filter("atrim", start=f"{plan.music_start_s:.3f}")
            .filter("asetpts", "PTS-STARTPTS")
            .filter("aresample", SAMPLE_RATE)
            .filter("aformat", sample_fmts="fltp", channel_layouts="stereo")
            .filter("volume", f"{plan.music_gain_db:.2f}dB")
        )
        if plan.envelope_path is not None:
            envelope = (
                inputs[2]
                .filter("aresample", SAMPLE_RATE)
                .filter("aformat", sample_fmts="fltp", channel_layouts="mono")
            )
            music = ffm.filter([music, _stereo(envelope)], "amultiply")
        fade_s = min(MUSIC_FADE_OUT_S, plan.duration_s / 4)
        music = (
            music.filter("atrim", duration=f"{plan.duration_s:.3f}")
            .filter("afade", t="in", d=f"{min(MUSIC_FADE_IN_S, fade_s):.3f}")
            .filter("afade", t="out", st=f"{plan.duration_s - fade_s:.3f}", d=f"{fade_s:.3f}")
        )
        mixed = ffm.filter([voice, music], "amix", inputs=2, normalize=0, duration="first")
    return _limited(mixed, plan) if normalised else mixed


def _limited(stream, plan: MixPlan):
    """`stream` at the plan's gain through the 4x-oversampled true-peak limiter."""
    ceiling = 10 ** ((plan.true_peak_dbtp - TRUE_PEAK_MARGIN_DB) / 20)
    # soxr: the same quality as ffmpeg's default resampler here, ~20 % less time for this pass.
    return (
        stream.filter("volume", f"{plan.gain_db:.2f}dB")
        .filter("aresample", OVERSAMPLED_RATE, resampler="soxr")
        .filter("alimiter", limit=f"{ceiling:.4f}", attack=1, release=50, level=0, latency=1)
        .filter("aresample", SAMPLE_RATE, resampler="soxr")
    )


def limit_mix(plan: MixPlan, raw_path: Path, out_path: Path) -> Loudness:
    """Apply the plan's gain and limiter to the raw mix in `raw_path`; measure it while writing
    it to `out_path` (48 kHz stereo float WAV, atomically)."""
    measured = _limited(ffm.input(os.fspath(raw_path)).audio, plan).filter(
        "ebur128", peak="true", framelog="quiet"
    )
    with ffmpeg.atomic_output(out_path) as tmp:
        out = ffm.output(measured, os.fspath(tmp), format="wav", acodec="pcm_f32le")
        return parse_ebur128(ffmpeg.run(out.get_args()))


def measure_mix(plan: MixPlan, *, normalised: bool, out_path: Path | None = None) -> Loudness:
    """EBU R128 loudness of the mix (an audio-only ffmpeg pass); with `out_path`, the mix as
    measured is also written there (48 kHz stereo float WAV, atomically)."""
    # ebur128 passes its input through untouched, so the file is what was measured.
    # The raw mix only needs its loudness (for the gain); the normalised one its true peak too.
    measured = audio_graph(plan, add_inputs(plan), normalised=normalised).filter(
        "ebur128", peak="true" if normalised else "none", framelog="quiet"
    )
    if out_path is None:
        return parse_ebur128(ffmpeg.run(ffm.output(measured, "-", format="null").get_args()))
    with ffmpeg.atomic_output(out_path) as tmp:
        out = ffm.output(measured, os.fspath(tmp), format="wav", acodec="pcm_f32le")
        return parse_ebur128(ffmpeg.run(out.get_args()))
