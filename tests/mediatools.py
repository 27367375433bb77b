"""Make tiny test media with the bundled ffmpeg and decode what reelflow produced."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from reelflow.engine import ffmpeg


def lavfi_video(path: Path, source: str, *, seconds: float, size: str = "640x360", fps: int = 30):
    """Encode a lavfi test source (e.g. ``testsrc2``, ``cellauto=rule=110``) to an MP4."""
    joiner = ":" if "=" in source else "="
    spec = f"{source}{joiner}s={size}:r={fps}"
    ffmpeg.run(
        ["-loglevel", "error", "-f", "lavfi", "-i", spec, "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", os.fspath(path)]
    )  # fmt: skip
    return path


def detailed_image(path: Path, *, size: str = "800x600") -> Path:
    """A still with texture everywhere, so any zoom or shake changes every frame."""
    ffmpeg.run(
        ["-loglevel", "error", "-f", "lavfi", "-i", f"mandelbrot=s={size}:end_pts=1",
         "-frames:v", "1", os.fspath(path)]
    )  # fmt: skip
    return path


def solid_image(path: Path, colour: str, *, size: str = "320x240") -> Path:
    """A single-colour still."""
    ffmpeg.run(
        ["-loglevel", "error", "-f", "lavfi", "-i", f"color=c={colour}:s={size}",
         "-frames:v", "1", os.fspath(path)]
    )  # fmt: skip
    return path


def speech_like(
    path: Path, spans: list[tuple[float, float]], *, seconds: float, sample_rate: int = 48_000
) -> Path:
    """Band-limited (200-3000 Hz), syllable-modulated noise during `spans`, silence elsewhere."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    noise = sosfilt(butter(4, [200, 3000], "bandpass", fs=sample_rate, output="sos"),
                    rng.standard_normal(t.size))  # fmt: skip
    syllables = 0.35 + 0.65 * (0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t)) ** 2
    on = np.zeros(t.size, dtype=bool)
    for a, b in spans:
        on |= (t >= a) & (t < b)
    voice = 0.25 * noise * syllables * on
    sf.write(path, voice.astype(np.float32), sample_rate, subtype="PCM_16")
    return path


def tone(path: Path, *, hz: float, seconds: float, amplitude: float = 0.3, stereo: bool = True):
    """A steady sine, e.g. as 'music' whose level is easy to follow under a voice."""
    sr = 48_000
    t = np.arange(int(seconds * sr)) / sr
    x = (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    sf.write(path, np.stack([x, x], axis=1) if stereo else x, sr, subtype="PCM_16")
    return path


def decode_audio(path: Path, *, sample_rate: int = 48_000) -> np.ndarray:
    """The first audio stream as float32 mono."""
    raw = ffmpeg.run_to_bytes(
        ["-i", os.fspath(path), "-map", "0:a:0", "-ac", "1", "-ar", str(sample_rate),
         "-f", "f32le", "pipe:1"]
    )  # fmt: skip
    return np.frombuffer(raw, dtype="<f4")


def band_level_db(
    samples: np.ndarray, sample_rate: int, *, lo_hz: float, hi_hz: float, t0: float, t1: float
) -> float:
    """RMS level (dB) of the band [lo_hz, hi_hz] of samples between t0 and t1 seconds."""
    seg = samples[int(t0 * sample_rate) : int(t1 * sample_rate)].astype(np.float64)
    window = np.hanning(seg.size)
    spectrum = np.fft.rfft(seg * window)
    freqs = np.fft.rfftfreq(seg.size, 1 / sample_rate)
    band = (freqs >= lo_hz) & (freqs <= hi_hz)
    # Parseval with the window's energy: mean power in the band, independent of the length.
    power = 2 * np.sum(np.abs(spectrum[band]) ** 2) / (seg.size * np.sum(window**2))
    return 10 * np.log10(power + 1e-20)


def gray_frames(path: Path, *, every: int = 1) -> tuple[np.ndarray, float]:
    """Luma planes of the video (every `every`-th frame) as float32 and the frame rate."""
    frames = []
    with av.open(os.fspath(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        for i, frame in enumerate(container.decode(stream)):
            if i % every == 0:
                frames.append(frame.to_ndarray(format="gray").astype(np.float32))
    return np.stack(frames), fps


def rgb_frame_at(path: Path, t_s: float) -> np.ndarray:
    """The RGB frame shown at `t_s` seconds."""
    with av.open(os.fspath(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        target = round(t_s * fps)
        for i, frame in enumerate(container.decode(stream)):
            if i == target:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"{path} has no frame at {t_s} s")
