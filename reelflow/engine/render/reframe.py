"""Reframing a talking-head clip: find the speaker's face, follow it smoothly, crop around it.

`track_face` decodes a few frames a second at analysis size (one ffmpeg pass, grey), finds the
largest face in each with OpenCV's bundled Haar cascade (or any `FaceDetector` passed in),
fills the samples without a face from their neighbours, drops outliers (median), smooths the
path (Savitzky-Golay: a local parabola, centred, so it neither lags nor shakes, and follows a
moving face right to the clip's ends where a plain average would pull back) and keeps only the
keyframes a straight line between them cannot replace. `crop_args` turns the path into one
piecewise-linear expression of ``t`` for ffmpeg's ``crop``, so the render stays a single pass.
No face in enough samples: the track is None and the crop stays centred.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from reelflow.engine import ffmpeg
from reelflow.engine.errors import InputError

# (x, y, w, h) boxes in the grey frame's pixels
FaceDetector = Callable[[np.ndarray], Sequence[tuple[int, int, int, int]]]

SAMPLE_FPS = 4.0
ANALYSIS_WIDTH = 480  # faces of >= 40 px here (1/12 of the width) are found
MIN_FOUND_FRACTION = 0.25  # fewer samples with a face than this: centre crop
SMOOTH_S = 1.5  # span of the smoothing window
KEYFRAME_TOLERANCE = 0.004  # of the frame size: below a pixel at 1080 px crops


@dataclass(frozen=True)
class FaceTrack:
    """Where the face is over the clip: keyframes of its centre, as fractions of the frame."""

    times_s: tuple[float, ...]
    x: tuple[float, ...]
    y: tuple[float, ...]
    samples: int
    found: int  # samples in which a face was found


@functools.cache
def haar_detector() -> FaceDetector:
    """OpenCV's frontal-face Haar cascade, from the opencv-python-headless wheel (cv2.data)."""
    import cv2

    cascade = cv2.CascadeClassifier(
        os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    )
    if cascade.empty():
        raise RuntimeError("OpenCV's face cascade did not load from cv2.data")

    def detect(gray: np.ndarray) -> Sequence[tuple[int, int, int, int]]:
        # a speaker worth centring on is at least 1/12 of the frame wide; not scanning for
        # smaller faces saves about a third of the time (and their false positives)
        side = max(24, gray.shape[1] // 12)
        found = cascade.detectMultiScale(
            gray, scaleFactor=1.1, minNeighbors=4, minSize=(side, side)
        )
        return [tuple(int(v) for v in box) for box in found]

    return detect


def iter_gray_frames(path: os.PathLike[str] | str, *, sample_fps: float = SAMPLE_FPS):
    """(time_s, grey frame) of `path` at `sample_fps`, at most `ANALYSIS_WIDTH` wide."""
    info = ffmpeg.probe(path, field="video")
    if info.video is None:
        raise InputError(f"{os.fspath(path)} has no picture", field="video")
    width = min(ANALYSIS_WIDTH, info.video.width) // 2 * 2
    height = max(2, round(info.video.height * width / info.video.width / 2) * 2)
    # round=up: each sample is the last frame at or before its tick (the default, "near", takes
    # the last frame before the next half tick: up to half a sample interval late)
    raw = ffmpeg.run_to_bytes(
        ["-i", os.fspath(path), "-map", "0:v:0", "-an",
         "-vf", f"fps={sample_fps}:round=up,scale={width}:{height},format=gray",
         "-f", "rawvideo", "pipe:1"]
    )  # fmt: skip
    frames = np.frombuffer(raw, dtype=np.uint8)
    count = frames.size // (width * height)
    frames = frames[: count * width * height].reshape(count, height, width)
    for i in range(count):
        # fps= emits the frame nearest each tick, starting at 0
        yield i / sample_fps, frames[i]


def track_face(
    path: os.PathLike[str] | str,
    /,
    *,
    detector: FaceDetector | None = None,
    sample_fps: float = SAMPLE_FPS,
    smooth_s: float = SMOOTH_S,
) -> FaceTrack | None:
    """The smoothed path of the (largest) face in the clip, or None if too few frames show one."""
    detect = detector or haar_detector()
    times, xs, ys, hits = [], [], [], []
    for t, gray in iter_gray_frames(path, sample_fps=sample_fps):
        boxes = list(detect(gray))
        times.append(t)
        if boxes:
            x, y, w, h = max(boxes, key=lambda b: b[2] * b[3])
            xs.append((x + w / 2) / gray.shape[1])
            ys.append((y + h / 2) / gray.shape[0])
            hits.append(True)
        else:
            xs.append(np.nan)
            ys.append(np.nan)
            hits.append(False)
    if not times or sum(hits) < max(1, MIN_FOUND_FRACTION * len(times)):
        return None
    t = np.asarray(times)
    window = round(smooth_s * sample_fps)
    path_x = _smooth(t, np.asarray(xs), hits, window=window)
    path_y = _smooth(t, np.asarray(ys), hits, window=window)
    keep = _keyframes(t, path_x, path_y, tolerance=KEYFRAME_TOLERANCE)
    return FaceTrack(
        times_s=tuple(float(v) for v in t[keep]),
        x=tuple(float(v) for v in path_x[keep]),
        y=tuple(float(v) for v in path_y[keep]),
        samples=len(times),
        found=int(sum(hits)),
    )


def _smooth(t: np.ndarray, values: np.ndarray, hits: list[bool], *, window: int) -> np.ndarray:
    # Imported here: scipy.signal costs ~0.5 s, and every flow-run process imports this module
    # while only reels of the user's own video track a face.
    from scipy.ndimage import median_filter
    from scipy.signal import savgol_filter

    found = np.asarray(hits)
    filled = np.interp(t, t[found], values[found])  # gaps: straight between neighbours
    filled = median_filter(filled, size=5, mode="nearest")  # one wrong detection moves nothing
    window = min(window, filled.size) // 2 * 2 + 1
    if window > filled.size:
        window -= 2
    if window < 5:
        return filled
    return savgol_filter(filled, window, polyorder=2, mode="interp")


def _keyframes(t: np.ndarray, x: np.ndarray, y: np.ndarray, *, tolerance: float) -> np.ndarray:
    """Indices of the points the path cannot lose (Ramer-Douglas-Peucker on both coordinates)."""
    keep = np.zeros(t.size, dtype=bool)
    keep[[0, -1]] = True
    stack = [(0, t.size - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        u = (t[a + 1 : b] - t[a]) / (t[b] - t[a])
        error = np.maximum(
            np.abs(x[a + 1 : b] - (x[a] + u * (x[b] - x[a]))),
            np.abs(y[a + 1 : b] - (y[a] + u * (y[b] - y[a]))),
        )
        worst = int(np.argmax(error))
        if error[worst] > tolerance:
            mid = a + 1 + worst
            keep[mid] = True
            stack += [(a, mid), (mid, b)]
    return np.flatnonzero(keep)


def piecewise_expr(times_s: Sequence[float], values: Sequence[float], var: str = "t") -> str:
    """An ffmpeg expression of `var` through the points (held flat outside them).

    A flat sum of clipped ramps rather than nested ifs: no nesting depth, whatever the length.
    """
    terms = [f"{values[0]:.5f}"]
    points = list(zip(times_s, values, strict=True))
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t1 <= t0 or abs(v1 - v0) < 1e-6:
            continue
        slope = (v1 - v0) / (t1 - t0)
        terms.append(f"{slope:+.6f}*clip({var}-{t0:.4f},0,{t1 - t0:.4f})")
    return "(" + "".join(terms) + ")"


def crop_box(source_w: int, source_h: int, *, width: int, height: int) -> tuple[int, int]:
    """The largest crop of the source with the output's aspect (even sizes, for yuv420p)."""
    if source_w * height > source_h * width:  # wider than the output: crop the sides
        crop_h = source_h
        crop_w = source_h * width / height
    else:
        crop_w = source_w
        crop_h = source_w * height / width
    return max(2, int(crop_w) // 2 * 2), max(2, int(crop_h) // 2 * 2)


def crop_args(
    track: FaceTrack | None, source_w: int, source_h: int, *, width: int, height: int
) -> dict[str, str]:
    """Keyword arguments of ffmpeg's ``crop``: the output's aspect, centred on the face path
    (source time ``t``), kept inside the frame; centred when there is no track."""
    crop_w, crop_h = crop_box(source_w, source_h, width=width, height=height)
    args = {"w": str(crop_w), "h": str(crop_h)}
    if track is None:
        args |= {"x": f"{(source_w - crop_w) // 2}", "y": f"{(source_h - crop_h) // 2}"}
        return args
    cx = piecewise_expr(track.times_s, track.x)
    cy = piecewise_expr(track.times_s, track.y)
    args["x"] = f"clip({cx}*iw-ow/2,0,iw-ow)"
    args["y"] = f"clip({cy}*ih-oh/2,0,ih-oh)"
    return args
