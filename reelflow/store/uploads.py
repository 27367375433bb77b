"""Receive an upload: stream it to a temporary file, check it, move it under a generated name.

The client's file name never touches the filesystem: it is reduced to a display name, and the
file lands at ``<uploads_dir>/<user_id>/<upload_id><extension of the detected format>``. The size
cap is enforced while streaming, so an oversized body is abandoned at the first byte over the
limit. On any failure the temporary file is removed and nothing is left behind; the final name
appears only by an atomic rename (the temporary folder is on the same filesystem).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import unicodedata
import uuid
from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from reelflow.engine.errors import InputError
from reelflow.store.media_check import MediaFacts, MediaLimits, check_media

CHUNK_BYTES = 1 << 20
INCOMING = ".incoming"  # temporary files, inside uploads_dir so the final rename is atomic
DISPLAY_NAME_MAX = 120
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# "talk": your own video, stored as the project's voice (its media says "video")
DEFAULT_FIELDS = {
    "voice": "voiceover",
    "music": "music",
    "background": "background",
    "talk": "video",
}


@runtime_checkable
class AsyncReadable(Protocol):
    """Anything with ``await read(n)``, such as FastAPI's `UploadFile`."""

    async def read(self, size: int = -1) -> bytes: ...


@dataclass(frozen=True)
class StoredFile:
    """An accepted upload, already at its final place."""

    rel_path: str  # posix, relative to uploads_dir
    display_name: str
    size_bytes: int
    facts: MediaFacts


def display_name(filename: str | None) -> str:
    """A client file name made safe to show: last path part, no control characters, bounded.

    Only for display. ``../../etc/passwd`` becomes ``passwd``; bidirectional overrides (which can
    disguise ``exe`` as ``mp3``) and other invisible format characters are dropped.
    """
    name = unicodedata.normalize("NFC", filename or "")
    name = re.split(r"[\\/]", name)[-1]
    kept = (_display_char(ch) for ch in name)
    name = " ".join("".join(kept).split()).lstrip(". ")
    if len(name) > DISPLAY_NAME_MAX:
        stem, suffix = os.path.splitext(name)
        suffix = suffix[:16]
        name = stem[: DISPLAY_NAME_MAX - len(suffix)] + suffix
    return name or "upload"


def _display_char(ch: str) -> str:
    category = unicodedata.category(ch)
    if category[0] == "C":  # control, format (bidi overrides), unassigned
        return ""
    return " " if category[0] == "Z" else ch


def store_file(
    source: BinaryIO | Iterable[bytes],
    *,
    uploads_dir: Path,
    user_id: str,
    upload_id: str,
    kind: str,
    max_bytes: int,
    filename: str | None,
    field: str | None = None,
    limits: MediaLimits | None = None,
) -> StoredFile:
    """Stream `source` (a binary file object or an iterable of byte chunks) into the store.

    Raises `InputError` naming `field` (default: the API's form field for `kind`) when the upload
    is empty, over `max_bytes`, or not usable media for `kind`.
    """
    field, name = _prepare(uploads_dir, user_id, upload_id, kind, field, filename)
    tmp = _incoming_path(uploads_dir)
    try:
        size = 0
        with tmp.open("wb") as out:
            for chunk in _iter_chunks(source):
                size = _write(out, chunk, size, max_bytes, field=field, name=name)
        return _finish(tmp, size, uploads_dir, user_id, upload_id, kind, field=field, name=name,
                       limits=limits)  # fmt: skip
    finally:
        tmp.unlink(missing_ok=True)


async def receive_file(
    source: AsyncIterable[bytes] | AsyncReadable,
    *,
    uploads_dir: Path,
    user_id: str,
    upload_id: str,
    kind: str,
    max_bytes: int,
    filename: str | None,
    field: str | None = None,
) -> Path:
    """Stream an async `source` to a temporary file with the size cap; return that file.

    The caller passes the result to `finish_file` (blocking: probing and decoding), typically
    in a worker thread, and must remove it if it does not.
    """
    field, name = _prepare(uploads_dir, user_id, upload_id, kind, field, filename)
    tmp = _incoming_path(uploads_dir)
    try:
        size = 0
        with tmp.open("wb") as out:
            async for chunk in _aiter_chunks(source):
                size = _write(out, chunk, size, max_bytes, field=field, name=name)
        if size == 0:
            raise InputError(f"{name} is empty (0 bytes)", field=field)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def finish_file(
    tmp: Path,
    *,
    uploads_dir: Path,
    user_id: str,
    upload_id: str,
    kind: str,
    filename: str | None,
    field: str | None = None,
    limits: MediaLimits | None = None,
) -> StoredFile:
    """Check a file written by `receive_file` and move it to its final name (or remove it)."""
    field, name = _prepare(uploads_dir, user_id, upload_id, kind, field, filename)
    try:
        size = tmp.stat().st_size
        return _finish(tmp, size, uploads_dir, user_id, upload_id, kind, field=field, name=name,
                       limits=limits)  # fmt: skip
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_incoming(uploads_dir: Path, *, older_than_s: float = 24 * 3600) -> int:
    """Delete temporary files a crashed process left behind; return how many."""
    folder = uploads_dir / INCOMING
    removed = 0
    if not folder.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    for path in folder.iterdir():
        with contextlib.suppress(OSError):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed


def _prepare(uploads_dir, user_id, upload_id, kind, field, filename) -> tuple[str, str]:
    if kind not in DEFAULT_FIELDS:
        raise InputError(f"unknown upload kind {kind!r}", field="kind")
    # Ids become path parts: accept only the shapes the store generates.
    if not (_SAFE_ID.match(user_id) and _SAFE_ID.match(upload_id)):
        raise ValueError("user_id and upload_id must be generated ids")
    return field or DEFAULT_FIELDS[kind], display_name(filename)


def _incoming_path(uploads_dir: Path) -> Path:
    folder = uploads_dir / INCOMING
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{uuid.uuid4().hex}.part"


def _iter_chunks(source: BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    read = getattr(source, "read", None)
    if callable(read):
        while chunk := read(CHUNK_BYTES):
            yield chunk
    else:
        yield from source  # type: ignore[misc]


async def _aiter_chunks(source: AsyncIterable[bytes] | AsyncReadable):
    if isinstance(source, AsyncReadable):
        while chunk := await source.read(CHUNK_BYTES):
            yield chunk
    else:
        async for chunk in source:
            yield chunk


def _write(out: BinaryIO, chunk: bytes, size: int, max_bytes: int, *, field: str, name: str):
    size += len(chunk)
    if size > max_bytes:
        raise InputError(
            f"{name} is larger than the {max_bytes / 2**20:.3g} MB upload limit", field=field
        )
    out.write(chunk)
    return size


def _finish(
    tmp, size, uploads_dir, user_id, upload_id, kind, *, field, name, limits=None
) -> StoredFile:
    if size == 0:
        raise InputError(f"{name} is empty (0 bytes)", field=field)
    facts = check_media(tmp, kind=kind, field=field, name=name, limits=limits or MediaLimits())
    rel_path = f"{user_id}/{upload_id}{facts.extension}"
    final = uploads_dir / rel_path
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    return StoredFile(rel_path=rel_path, display_name=name, size_bytes=size, facts=facts)
