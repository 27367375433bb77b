"""A generated talking-head clip: a drawn face moving across a landscape frame, espeak phrases
with long pauses, and sync markers (a white flash frame with a tone burst at the same instant)."""

from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import soundfile as sf

RATE = 48_000
FPS = 30
SIZE = (640, 360)
MARKER_HZ = 3_000.0
MARKER_S = 0.12


@dataclass(frozen=True)
class TalkClip:
    path: Path
    duration_s: float
    markers_s: tuple[float, ...]  # flash + tone onsets, on the frame grid

    def face_x(self, t_s: float) -> float:
        """Centre of the face at `t_s`, as a fraction of the frame width."""
        return face_x(t_s)


def face_x(t_s: float) -> float:
    # left to right and back across most of the frame, every 6 s
    return 0.5 + 0.3 * math.sin(2 * math.pi * t_s / 6.0)


def draw_face(img: np.ndarray, centre: tuple[int, int], scale: float) -> None:
    """A cartoon face the frontal-face Haar cascade finds: light oval, dark eyes and brows."""
    import cv2

    cx, cy = centre

    def p(dx: float, dy: float) -> tuple[int, int]:
        return int(cx + dx * scale), int(cy + dy * scale)

    def r(a: float, b: float) -> tuple[int, int]:
        return int(a * scale), int(b * scale)

    cv2.ellipse(img, (cx, cy), r(70, 95), 0, 0, 360, 200, -1)
    cv2.ellipse(img, (cx, cy), r(70, 95), 0, 180, 360, 90, max(1, int(12 * scale)))
    for dx in (-28, 28):
        cv2.ellipse(img, p(dx, -20), r(16, 8), 0, 0, 360, 40, -1)
        cv2.line(img, p(dx - 18, -38), p(dx + 18, -38), 70, max(1, int(6 * scale)))
    cv2.ellipse(img, p(0, 15), r(8, 18), 0, 0, 360, 170, -1)
    cv2.ellipse(img, p(0, 50), r(28, 9), 0, 0, 360, 70, -1)


def frame_at(t_s: float, *, face: bool = True) -> np.ndarray:
    """The grey picture at `t_s` (the face drawn at `face_x(t_s)`)."""
    import cv2

    img = np.full((SIZE[1], SIZE[0]), 60, np.uint8)
    if face:
        draw_face(img, (int(face_x(t_s) * SIZE[0]), SIZE[1] // 2), 0.6)
    return cv2.GaussianBlur(img, (0, 0), 1.5)


def make_talk_clip(
    folder: Path, phrases: list[str], *, pause_s: float = 1.5, face: bool = True
) -> TalkClip:
    """Write `talk.mp4` (H.264 + AAC): phrases separated by `pause_s`, a marker in each pause."""
    from reelflow.engine.speech.tts import synthesize_to_wav

    pieces, markers, t = [np.zeros(int(0.8 * RATE), np.float32)], [], 0.8
    for i, phrase in enumerate(phrases):
        synthesize_to_wav(phrase, folder / f"phrase{i}.wav", sample_rate=RATE)
        speech, _ = sf.read(folder / f"phrase{i}.wav", dtype="float32")
        pieces.append(speech)
        t += speech.shape[0] / RATE
        if i < len(phrases) - 1:
            pause = np.zeros(int(pause_s * RATE), np.float32)
            marker = round((t + pause_s / 2) * FPS) / FPS  # on the frame grid
            start = round((marker - t) * RATE)
            n = int(MARKER_S * RATE)
            burst = 0.5 * np.sin(2 * np.pi * MARKER_HZ * np.arange(n) / RATE)
            pause[start : start + n] = burst.astype(np.float32)
            pieces.append(pause)
            markers.append(marker)
            t += pause_s
    pieces.append(np.zeros(int(0.8 * RATE), np.float32))
    audio = np.concatenate(pieces)
    duration_s = audio.shape[0] / RATE
    sf.write(folder / "talk.wav", audio, RATE, subtype="PCM_16")
    frames = []
    for n in range(math.ceil(duration_s * FPS)):
        ts = n / FPS
        img = frame_at(ts, face=face)
        if any(abs(ts - m) < 0.5 / FPS or abs(ts - m - 1 / FPS) < 0.5 / FPS for m in markers):
            img[:] = 255  # two white frames from the marker on
        frames.append(img)
    path = folder / "talk.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y",
         "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{SIZE[0]}x{SIZE[1]}", "-r", str(FPS),
         "-i", "pipe:0", "-i", str(folder / "talk.wav"),
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-shortest", str(path)],
        input=np.stack(frames).tobytes(), check=True, timeout=120,
    )  # fmt: skip
    return TalkClip(path, duration_s, tuple(markers))
