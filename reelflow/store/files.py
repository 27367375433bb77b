"""Uploads: receive, record, list and delete a user's files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import or_, select

from reelflow.engine.errors import InputError
from reelflow.store import uploads
from reelflow.store.db import Database
from reelflow.store.schema import UPLOAD_KINDS, Project, ProjectBackground, Upload, new_id
from reelflow.store.spec import upload_path


class Files(Database):
    """Upload queries; files live under ``settings.uploads_dir``."""

    def save_upload(
        self,
        user_id: str,
        kind: str,
        source: BinaryIO | Iterable[bytes],
        *,
        filename: str | None = None,
        field: str | None = None,
    ) -> Upload:
        """Store a streamed upload of `kind` ("voice", "music" or "background") for `user_id`.

        `source` is a binary file object or an iterable of byte chunks; `filename` is the
        client's name, kept (sanitised) for display only. Raises `InputError` naming `field`
        (default ``voiceover``/``music``/``background``) for empty, oversized or unusable files;
        nothing is left on disk then.
        """
        upload_id = new_id()
        stored = uploads.store_file(
            source,
            uploads_dir=self.uploads_dir,
            user_id=user_id,
            upload_id=upload_id,
            kind=kind,
            max_bytes=self.max_upload_bytes,
            filename=filename,
            field=field,
            limits=self.media_limits,
        )
        return self._record_upload(user_id, upload_id, kind, stored)

    async def save_upload_async(
        self,
        user_id: str,
        kind: str,
        source: AsyncIterable[bytes] | uploads.AsyncReadable,
        *,
        filename: str | None = None,
        field: str | None = None,
    ) -> Upload:
        """`save_upload` for async sources (an async iterable of chunks, or FastAPI's
        `UploadFile`); the blocking check and database write run in a worker thread."""
        upload_id = new_id()
        names = {"user_id": user_id, "upload_id": upload_id, "kind": kind}
        tmp = await uploads.receive_file(
            source,
            uploads_dir=self.uploads_dir,
            max_bytes=self.max_upload_bytes,
            filename=filename,
            field=field,
            **names,
        )

        def finish() -> Upload:
            stored = uploads.finish_file(
                tmp, uploads_dir=self.uploads_dir, filename=filename, field=field,
                limits=self.media_limits, **names,
            )  # fmt: skip
            return self._record_upload(user_id, upload_id, kind, stored)

        # Not the default thread pool: authentication, the store and /health share that one, and
        # a few slow media checks must not freeze them (the pool is the Store's, bounded).
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.media_pool, finish)

    def get_upload(self, user_id: str, upload_id: str) -> Upload | None:
        """The user's upload `upload_id`, or None (unknown and other users' ids alike)."""
        with self.session() as session:
            return _owned(session, user_id, upload_id)

    def list_uploads(self, user_id: str, *, kind: str | None = None) -> list[Upload]:
        """The user's uploads, newest first, optionally of one kind."""
        query = select(Upload).where(Upload.user_id == user_id)
        if kind is not None:
            query = query.where(Upload.kind == kind)
        with self.session() as session:
            return list(session.scalars(query.order_by(Upload.created_at.desc(), Upload.id)))

    def set_upload_details(
        self, user_id: str, upload_id: str, details: Mapping[str, Any]
    ) -> Upload | None:
        """Merge computed facts (e.g. ``{"bpm": 120, "mood": "calm"}``) into an upload's details."""
        with self.session() as session:
            upload = _owned(session, user_id, upload_id)
            if upload is not None:
                upload.details = {**(upload.details or {}), **details}
            return upload

    def delete_upload(self, user_id: str, upload_id: str) -> bool:
        """Delete the user's upload and its file; False if there is no such upload.

        Raises `InputError` if a project still uses it.
        """
        with self.session() as session:
            upload = _owned(session, user_id, upload_id)
            if upload is None:
                return False
            if _in_use(session, {upload_id}):
                message = "is used by a project; delete or change the project first"
                raise InputError(message, field="upload_id")
            rel_path = upload.path
            session.delete(upload)
        self._remove_files([rel_path])
        return True

    def upload_path(self, upload: Upload) -> Path:
        """Absolute path of an upload's file."""
        return upload_path(self.uploads_dir, upload)

    def _record_upload(self, user_id, upload_id, kind, stored: uploads.StoredFile) -> Upload:
        upload = Upload(
            id=upload_id,
            user_id=user_id,
            kind="voice" if kind == "talk" else kind,  # a clip is its project's voice
            media=stored.facts.media,
            path=stored.rel_path,
            original_name=stored.display_name,
            content_type=stored.facts.content_type,
            format_name=stored.facts.format_name,
            size_bytes=stored.size_bytes,
            duration_s=stored.facts.duration_s,
        )
        try:
            with self.session() as session:
                session.add(upload)
        except BaseException:
            self._remove_files([stored.rel_path])  # no row, so the file must not stay either
            raise
        return upload


def _owned(session, user_id: str, upload_id: str) -> Upload | None:
    query = select(Upload).where(Upload.id == upload_id, Upload.user_id == user_id)
    return session.scalar(query)


def _in_use(session, upload_ids: set[str]) -> set[str]:
    """Which of `upload_ids` some project still refers to."""
    if not upload_ids:
        return set()
    ids = list(upload_ids)
    used = set(
        session.scalars(
            select(ProjectBackground.upload_id).where(ProjectBackground.upload_id.in_(ids))
        )
    )
    for voice, music in session.execute(
        select(Project.voice_upload_id, Project.music_upload_id).where(
            or_(Project.voice_upload_id.in_(ids), Project.music_upload_id.in_(ids))
        )
    ):
        used.update({voice, music} & upload_ids)
    return used


def drop_unused(session, upload_ids: set[str], *, keep_kinds: tuple[str, ...] = ("music",)):
    """Delete the rows of uploads in `upload_ids` no project uses; return their file paths.

    Music stays: it is part of the user's music library, not just of one project.
    """
    unused = upload_ids - _in_use(session, upload_ids)
    if not unused:
        return []
    kinds = [k for k in UPLOAD_KINDS if k not in keep_kinds]
    rows = session.scalars(select(Upload).where(Upload.id.in_(unused), Upload.kind.in_(kinds)))
    paths = []
    for upload in rows:
        paths.append(upload.path)
        session.delete(upload)
    return paths
