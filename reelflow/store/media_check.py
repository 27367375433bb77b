"""Decide by content what an uploaded file is, and refuse what reelflow cannot use.

A file is probed (container and streams) and then decoded with the bundled ffmpeg: audio in full
(fast, and the only way to notice an mp3 cut short), pictures by demuxing every packet and decoding
the first frames. Nothing here trusts the client's file name or content type; the stored
extension and content type come from the detected format.

Decision: a video file is refused as voice or music even if it has a sound track, because the
user almost certainly picked the wrong file and the mistake is cheaper to fix before rendering.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from reelflow.engine import ffmpeg
from reelflow.engine.errors import InputError, MediaError

AUDIO_HINT = "use wav, mp3, m4a, aac, flac or ogg"
PICTURE_HINT = "use png, jpeg or webp images, or mp4, mov or webm videos"

# Detected format -> (extension, content type) for audio-only files.
_AUDIO_FORMATS: dict[str, tuple[str, str]] = {
    "mp3": (".mp3", "audio/mpeg"),
    "wav": (".wav", "audio/wav"),
    "flac": (".flac", "audio/flac"),
    "ogg": (".ogg", "audio/ogg"),
    "aac": (".aac", "audio/aac"),
    "aiff": (".aiff", "audio/aiff"),
    "mov,mp4,m4a,3gp,3g2,mj2": (".m4a", "audio/mp4"),
    "matroska,webm": (".mka", "audio/x-matroska"),
}
_VIDEO_FORMATS: dict[str, tuple[str, str]] = {
    "mov,mp4,m4a,3gp,3g2,mj2": (".mp4", "video/mp4"),
    "matroska,webm": (".mkv", "video/x-matroska"),
    "avi": (".avi", "video/x-msvideo"),
    "gif": (".gif", "image/gif"),
    "mpegts": (".ts", "video/mp2t"),
}
_IMAGE_CODECS: dict[str, tuple[str, str]] = {
    "png": (".png", "image/png"),
    "mjpeg": (".jpg", "image/jpeg"),
    "webp": (".webp", "image/webp"),
    "bmp": (".bmp", "image/bmp"),
    "tiff": (".tiff", "image/tiff"),
    "gif": (".gif", "image/gif"),
}
_WEBM_CODECS = {"vp8", "vp9", "av1", "opus", "vorbis"}
# Album art rides in mp3/m4a files as a one-frame picture stream; it does not make them videos.
_COVER_ART_CODECS = {"mjpeg", "png", "bmp", "gif", "webp"}
_STATS_TIME = re.compile(r"time=\s*(-?\d+):(\d+):(\d+(?:\.\d+)?)")
# Untrusted files are opened only by these demuxers and only through the file protocol: no
# playlist (hls), concatenation or subtitle demuxer that could read another file or a URL.
UNTRUSTED_FORMATS = ",".join([
    "mp3", "wav", "flac", "ogg", "aac", "aiff", "mov", "mp4", "m4a", "3gp", "3g2", "mj2",
    "matroska", "webm", "avi", "gif", "mpegts", "image2",
    "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe",
])  # fmt: skip
UNTRUSTED_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": UNTRUSTED_FORMATS}


@dataclass(frozen=True)
class MediaLimits:
    """How much of an upload is looked at: its longest duration and the check's time."""

    max_duration_s: float = 900.0
    timeout_s: float = 30.0


@dataclass(frozen=True)
class MediaFacts:
    """What an accepted upload is."""

    media: str  # "audio", "image" or "video"
    extension: str  # with the dot, from the detected format
    content_type: str
    format_name: str
    duration_s: float


def check_media(
    path: Path, *, kind: str, field: str, name: str, limits: MediaLimits | None = None
) -> MediaFacts:
    """Classify `path` for an upload of `kind` ("voice", "music", "background", "talk").

    Raises `InputError` naming `field`, with `name` (the display name) in the message, when the
    file is empty, unreadable, of the wrong kind, truncated, corrupt or longer than
    `limits.max_duration_s` (known from the probe, before anything is decoded).
    """
    limits = limits or MediaLimits()
    try:
        info = ffmpeg.probe(path, field=field, options=UNTRUSTED_OPTIONS)
    # Besides InputError, the probe can trip over odd input (an SVG raises AttributeError);
    # whatever it is, the upload is unusable.
    except Exception as exc:
        message = f"{name} is not a readable audio, image or video file"
        raise InputError(message, field=field) from exc
    if info.duration_s > limits.max_duration_s:
        raise InputError(
            f"{name} lasts {info.duration_s:.0f} s; at most {limits.max_duration_s:.0f} s",
            field=field,
        )
    if kind == "background":
        return _picture(path, info, field=field, name=name, limits=limits)
    if kind == "talk":  # your own video: a picture and the voice's sound
        if info.audio is None:
            raise InputError(f"{name} has no sound; the video's sound is the voice", field=field)
        facts = _picture(path, info, field=field, name=name, limits=limits)
        if facts.media != "video":
            raise InputError(f"{name} is a still image, not a video", field=field)
        return facts
    return _audio(path, info, field=field, name=name, limits=limits)


def _audio(path: Path, info: ffmpeg.MediaInfo, *, field: str, name: str, limits) -> MediaFacts:
    video = info.video
    cover_art = video is not None and video.codec in _COVER_ART_CODECS and video.frames <= 1
    if video is not None and (info.audio is None or not cover_art):
        what = "an image" if _is_image(info) else f"a video ({video.codec})"
        raise InputError(f"{name} is {what}, not audio; {AUDIO_HINT}", field=field)
    if info.audio is None:
        raise InputError(f"{name} has no audio stream; {AUDIO_HINT}", field=field)
    ext, content_type = _lookup(_AUDIO_FORMATS, info.format_name, AUDIO_HINT, field, name)
    if info.format_name == "matroska,webm" and info.audio.codec in _WEBM_CODECS:
        ext, content_type = ".webm", "audio/webm"
    decoded = _decode(path, ["-map", "0:a:0"], field=field, name=name, limits=limits)
    _check_long(decoded, limits, field=field, name=name)
    _check_complete(decoded, info.duration_s, slack_s=0.1, field=field, name=name)
    return MediaFacts("audio", ext, content_type, info.format_name, decoded.seconds)


def _picture(path: Path, info: ffmpeg.MediaInfo, *, field: str, name: str, limits) -> MediaFacts:
    video = info.video
    if video is None:
        raise InputError(f"{name} has no picture (is it audio?); {PICTURE_HINT}", field=field)
    if _is_image(info):
        ext, content_type = _lookup(_IMAGE_CODECS, video.codec, PICTURE_HINT, field, name)
        _decode(path, ["-map", "0:v:0", "-frames:v", "1"], field=field, name=name, limits=limits)
        return MediaFacts("image", ext, content_type, info.format_name, 0.0)
    ext, content_type = _lookup(_VIDEO_FORMATS, info.format_name, PICTURE_HINT, field, name)
    if info.format_name == "matroska,webm" and video.codec in _WEBM_CODECS:
        ext, content_type = ".webm", "video/webm"
    # Reading every packet finds a cut-off file quickly; decoding the start proves the codec.
    packets = _decode(path, ["-map", "0:v:0", "-c", "copy"], field=field, name=name, limits=limits)
    _check_long(packets, limits, field=field, name=name)
    _decode(path, ["-map", "0:v:0", "-frames:v", "5"], field=field, name=name, limits=limits)
    # The last packet starts one frame before the end (more with a low frame rate).
    frame_s = 1.0 / video.fps if video.fps > 0 else 1.0
    _check_complete(packets, info.duration_s, slack_s=2 * frame_s, field=field, name=name)
    return MediaFacts("video", ext, content_type, info.format_name, info.duration_s)


def _lookup(table, key: str, hint: str, field: str, name: str) -> tuple[str, str]:
    if key not in table:
        raise InputError(f"{name}: unsupported format {key}; {hint}", field=field)
    return table[key]


def _is_image(info: ffmpeg.MediaInfo) -> bool:
    if info.format_name.endswith("_pipe") or info.format_name == "image2":
        return True
    video = info.video
    return video is not None and info.audio is None and video.frames <= 1 and info.duration_s < 0.1


@dataclass(frozen=True)
class _Decoded:
    seconds: float  # how far ffmpeg got
    length_estimated: bool  # the container's stated length was guessed from the bit rate


def _decode(
    path: Path, selection: list[str], *, field: str, name: str, limits: MediaLimits
) -> _Decoded:
    """Run ffmpeg over `path` into the null muxer; report how far it got.

    Any decoder or demuxer error is a corrupt file: the render would hit the same error later.
    Decoding stops a second past the longest allowed duration (a file whose header lied about
    its length is then refused by `_check_long`), and after `limits.timeout_s`.
    """
    # Tagged warnings tell errors from notes; one stats line at the end (a long period) keeps
    # early messages in the log's tail.
    stop_at = f"{limits.max_duration_s + 1:.3f}"
    args = ["-loglevel", "level+warning", "-stats", "-stats_period", "86400",
            "-protocol_whitelist", "file", "-format_whitelist", UNTRUSTED_FORMATS,
            "-i", os.fspath(path), "-t", stop_at, *selection, "-f", "null", "-"]  # fmt: skip
    try:
        log = ffmpeg.run(args, timeout_s=limits.timeout_s)
    except MediaError as exc:
        raise InputError(f"{name} is corrupt or truncated ({exc})", field=field) from exc
    lines = [line.strip() for line in re.split(r"[\r\n]+", log) if line.strip()]
    errors = [line for line in lines if "[error]" in line or "[fatal]" in line]
    if errors:
        detail = errors[0].split("] ")[-1][:200]
        raise InputError(f"{name} is corrupt or truncated: {detail}", field=field)
    estimated = any("Estimating duration from bitrate" in line for line in lines)
    times = [m for m in map(_STATS_TIME.search, lines) if m]
    if not times:
        return _Decoded(0.0, estimated)
    hours, minutes, seconds = times[-1].groups()
    return _Decoded(int(hours) * 3600 + int(minutes) * 60 + float(seconds), estimated)


def _check_long(decoded: _Decoded, limits: MediaLimits, *, field: str, name: str) -> None:
    if decoded.seconds > limits.max_duration_s:
        raise InputError(
            f"{name} lasts over {limits.max_duration_s:.0f} s (the longest accepted)", field=field
        )


def _check_complete(
    decoded: _Decoded, declared_s: float, *, slack_s: float, field: str, name: str
) -> None:
    if decoded.seconds <= 0:
        raise InputError(f"{name} has no decodable content (zero duration)", field=field)
    # Headers (Xing/Info in mp3, moov in mp4) state the full length; a file cut short in
    # transfer decodes to less. A length guessed from the bit rate proves nothing either way.
    if decoded.length_estimated or declared_s <= 0:
        return
    if decoded.seconds < 0.97 * declared_s - slack_s:
        raise InputError(
            f"{name} is truncated: only {decoded.seconds:.2f} s of its {declared_s:.2f} s decode",
            field=field,
        )
