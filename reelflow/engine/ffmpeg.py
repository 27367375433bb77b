"""The only module that runs ffmpeg or probes media.

The binary is the static ffmpeg shipped in the imageio-ffmpeg wheel, so no system ffmpeg is needed.
Probing uses PyAV (the wheel has no ffprobe). Progress comes from ffmpeg's ``-progress pipe:1``
key/value stream; errors keep the tail of stderr so a failed run explains itself once.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path

import av
import imageio_ffmpeg

from reelflow.engine.errors import InputError, MediaError

ProgressCallback = Callable[[float], None]
"""Receives the fraction of the output written so far, 0.0 to 1.0."""


def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg binary."""
    return imageio_ffmpeg.get_ffmpeg_exe()


def fonts_env() -> dict[str, str]:
    """The environment ffmpeg runs in: this process's, with fontconfig confined to the bundled
    fonts (``assets/fonts/fonts.conf`` lists only its own folder). libass falls back through
    fontconfig for characters the chosen font lacks, so without this a reel would borrow system
    fonts and look different, or draw boxes, on a machine without them."""
    return {**os.environ, "FONTCONFIG_FILE": os.fspath(_fonts_conf())}


@functools.cache
def _fonts_conf() -> Path:
    return Path(str(resources.files("reelflow").joinpath("assets", "fonts", "fonts.conf")))


def run(
    args: Sequence[str],
    *,
    duration_s: float | None = None,
    on_progress: ProgressCallback | None = None,
    timeout_s: float | None = None,
) -> str:
    """Run ffmpeg with `args` (without the binary) and return its stderr.

    With `on_progress` and `duration_s`, the callback receives the written fraction as ffmpeg
    reports it. Raises `MediaError` on a non-zero exit; a kill by signal or a timeout is marked
    transient, because running again can succeed.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y"]
    if on_progress is not None:
        cmd += ["-progress", "pipe:1", "-nostats"]
    cmd += list(args)
    stderr_tail: deque[str] = deque(maxlen=40)
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE if on_progress is not None else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=fonts_env(),
    )
    # Drain stderr on a thread so a chatty ffmpeg can never block on a full pipe.
    drain = threading.Thread(target=_collect, args=(proc.stderr, stderr_tail), daemon=True)
    drain.start()
    try:
        if on_progress is not None and proc.stdout is not None:
            _follow_progress(proc.stdout, duration_s, on_progress)
        returncode = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.wait()
        raise MediaError(f"ffmpeg timed out after {timeout_s:.0f} s", transient=True) from exc
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        drain.join(timeout=5)
    log = "".join(stderr_tail)
    if returncode != 0:
        killed = returncode < 0
        last = _last_error_line(stderr_tail)
        reason = f"killed by signal {-returncode}" if killed else f"exit code {returncode}"
        raise MediaError(f"ffmpeg failed ({reason}): {last}", transient=killed, log_tail=log)
    if on_progress is not None:
        on_progress(1.0)
    return log


def run_to_bytes(args: Sequence[str], *, timeout_s: float | None = 600) -> bytes:
    """Run ffmpeg writing its output to stdout (``pipe:1``) and return those bytes."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *args]
    try:
        done = subprocess.run(
            cmd, capture_output=True, timeout=timeout_s, check=False, env=fonts_env()
        )
    except subprocess.TimeoutExpired as exc:
        raise MediaError(f"ffmpeg timed out after {timeout_s:.0f} s", transient=True) from exc
    if done.returncode != 0:
        log = done.stderr.decode(errors="replace")
        last = log.strip().splitlines()[-1][:300] if log.strip() else "no output"
        raise MediaError(
            f"ffmpeg failed (exit code {done.returncode}): {last}",
            transient=done.returncode < 0,
            log_tail=log[-4000:],
        )
    return done.stdout


def _collect(stream, sink: deque[str]) -> None:
    for line in stream:
        sink.append(line)


def _follow_progress(stdout, duration_s: float | None, on_progress: ProgressCallback) -> None:
    for line in stdout:
        key, _, value = line.strip().partition("=")
        if key == "out_time_us" and duration_s and value.isdigit():
            on_progress(min(1.0, int(value) / 1e6 / duration_s))


def _last_error_line(lines: deque[str]) -> str:
    for line in reversed(lines):
        text = line.strip()
        if text and not text.startswith(("Stream mapping", "Press [q]")):
            return text[:300]
    return "no output"


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it into place only if the block succeeds.

    The temporary name keeps the suffix, so ffmpeg still picks the right muxer. On any error the
    temporary file is removed and nothing appears at `path`. The writer creates the file, so it
    gets the process's usual permissions (mkstemp's 0600 would have carried over to the output).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:12]}{final.suffix}")
    try:
        yield tmp
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise MediaError(f"no output was written for {final.name}")
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class VideoStreamInfo:
    codec: str
    profile: str | None
    width: int
    height: int
    fps: float
    pix_fmt: str | None
    color_primaries: str | None
    color_transfer: str | None
    color_space: str | None
    frames: int


@dataclass(frozen=True)
class AudioStreamInfo:
    codec: str
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds, as far as reelflow cares."""

    path: Path
    format_name: str
    duration_s: float
    size_bytes: int
    video: VideoStreamInfo | None
    audio: AudioStreamInfo | None

    @property
    def is_still_image(self) -> bool:
        return self.video is not None and self.audio is None and self.video.frames <= 1


def probe(
    path: str | os.PathLike[str],
    *,
    field: str | None = None,
    options: dict[str, str] | None = None,
) -> MediaInfo:
    """Describe a media file; raise `InputError` (naming `field`) if it is missing or unreadable.

    `options` are libavformat's input options, e.g. ``protocol_whitelist`` and
    ``format_whitelist`` for untrusted files.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"file not found: {p}", field=field)
    if p.stat().st_size == 0:
        raise InputError(f"file is empty: {p.name}", field=field)
    try:
        with av.open(str(p), options=options or {}) as container:
            return _describe(p, container)
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"not a readable media file: {p.name} ({exc})", field=field) from exc


def _describe(p: Path, container) -> MediaInfo:
    video = audio = None
    if container.streams.video:
        vs = container.streams.video[0]
        cc = vs.codec_context
        rate = vs.average_rate or vs.guessed_rate or Fraction(0)
        video = VideoStreamInfo(
            codec=cc.name,
            profile=cc.profile,
            width=cc.width,
            height=cc.height,
            fps=float(rate),
            pix_fmt=cc.format.name if cc.format else None,
            color_primaries=_enum_name(getattr(cc, "color_primaries", None)),
            color_transfer=_enum_name(getattr(cc, "color_trc", None)),
            color_space=_enum_name(getattr(cc, "colorspace", None)),
            frames=vs.frames,
        )
    if container.streams.audio:
        a = container.streams.audio[0].codec_context
        audio = AudioStreamInfo(codec=a.name, sample_rate=a.sample_rate, channels=a.channels)
    duration = container.duration / 1e6 if container.duration else _stream_duration(container)
    return MediaInfo(
        path=p,
        format_name=container.format.name,
        duration_s=float(duration),
        size_bytes=p.stat().st_size,
        video=video,
        audio=audio,
    )


def _stream_duration(container) -> float:
    for stream in container.streams:
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
    return 0.0


# ISO/IEC 23091-4 code points shared by primaries, transfer and matrix for the common cases.
_COLOUR_CODES = {1: "bt709", 2: "unknown", 5: "bt470bg", 6: "smpte170m", 9: "bt2020"}


def _enum_name(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, int):
        return _COLOUR_CODES.get(value, str(value))
    return str(getattr(value, "name", value)).lower()


@functools.cache
def encoder_works(codec: str) -> bool:
    """Whether ffmpeg can open `codec` here (NVENC needs a GPU and a driver, not just a build).

    Cached per process: the answer depends on the machine, not the call.
    """
    try:
        run(
            [
                "-loglevel", "error",
                "-f", "lavfi", "-i", "color=c=black:s=256x256:r=30:d=0.1",
                "-c:v", codec, "-frames:v", "2", "-f", "null", "-",
            ],
            timeout_s=30,
        )  # fmt: skip
    except MediaError:
        return False
    return True
