"""Uploads: receive, record, list and delete a user's files."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import func, or_, select

from reelflow.engine.errors import InputError
from reelflow.store import uploads
from reelflow.store.db import Database
from reelflow.store.schema import UPLOAD_KINDS, Project, ProjectBackground, Upload, new_id
from reelflow.store.spec import upload_path


class UploadInUse(InputError):
    """An upload a project still refers to cannot be deleted (the API answers 409)."""


class QuotaExceeded(InputError):
    """An upload would take the user past `storage_quota_mb` (the API answers 413)."""


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
        field = field or uploads.DEFAULT_FIELDS.get(kind, "file")
        cap = self._upload_cap(user_id, field)
        with self._quota_named(cap, user_id, field):
            stored = uploads.store_file(
                source,
                uploads_dir=self.uploads_dir,
                user_id=user_id,
                upload_id=upload_id,
                kind=kind,
                max_bytes=cap,
                filename=filename,
                field=field,
                limits=self.media_limits,
            )
        return self._record_upload(user_id, upload_id, kind, stored, field=field)

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
        field = field or uploads.DEFAULT_FIELDS.get(kind, "file")
        # Refused before a byte is kept: the stream stops where the quota would be passed.
        cap = await asyncio.to_thread(self._upload_cap, user_id, field)  # one indexed query
        with self._quota_named(cap, user_id, field):
            tmp = await uploads.receive_file(
                source,
                uploads_dir=self.uploads_dir,
                max_bytes=cap,
                filename=filename,
                field=field,
                **names,
            )

        def finish() -> Upload:
            stored = uploads.finish_file(
                tmp, uploads_dir=self.uploads_dir, filename=filename, field=field,
                limits=self.media_limits, **names,
            )  # fmt: skip
            return self._record_upload(user_id, upload_id, kind, stored, field=field)

        # Not the default thread pool: authentication, the store and /health share that one, and
        # a few slow media checks must not freeze them (the pool is the Store's, bounded).
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.media_pool, finish)

    def storage_used(self, user_id: str) -> int:
        """Bytes the user's uploads take (what `storage_quota_mb` counts)."""
        query = select(func.coalesce(func.sum(Upload.size_bytes), 0))
        with self.session() as session:
            return int(session.scalar(query.where(Upload.user_id == user_id)) or 0)

    def _upload_cap(self, user_id: str, field: str) -> int:
        """The most bytes the user's next upload may have: the per-file limit, or what is left
        of the quota; `QuotaExceeded` naming `field` when nothing is left."""
        if not self.quota_bytes:
            return self.max_upload_bytes
        used = self.storage_used(user_id)
        if used >= self.quota_bytes:
            raise QuotaExceeded(self._quota_message(used), field=field)
        return min(self.max_upload_bytes, self.quota_bytes - used)

    def _quota_message(self, used: int) -> str:
        used_mb, quota_mb = used / 2**20, self.quota_bytes / 2**20
        return (
            f"over your storage quota ({used_mb:.1f} MB used of {quota_mb:.0f} MB); "
            "delete uploads or projects first"
        )

    @contextlib.contextmanager
    def _quota_named(self, cap: int, user_id: str, field: str):
        """Report a stream stopped by the quota (not the per-file limit) as `QuotaExceeded`."""
        try:
            yield
        except InputError as exc:
            if cap < self.max_upload_bytes and "upload limit" in exc.reason:
                message = self._quota_message(self.storage_used(user_id))
                raise QuotaExceeded(message, field=field) from None
            raise

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

    def delete_upload(self, user_id: str, upload_id: str, *, kind: str | None = None) -> bool:
        """Delete the user's upload (of `kind`, if given) and its file; False if there is no
        such upload (other users' ids alike).

        Raises `UploadInUse` naming ``upload_id`` and the projects if a project still uses it:
        deleting it would leave the project unable to render.
        """
        with self.session() as session:
            upload = _owned(session, user_id, upload_id)
            if upload is None or (kind is not None and upload.kind != kind):
                return False
            users = _projects_using(session, upload_id)
            if users:
                message = (
                    f"is used by project {', '.join(users)}; delete the project or give it "
                    "another file first"
                )
                raise UploadInUse(message, field="upload_id")
            rel_path = upload.path
            session.delete(upload)
        self._remove_files([rel_path])
        return True

    def upload_path(self, upload: Upload) -> Path:
        """Absolute path of an upload's file."""
        return upload_path(self.uploads_dir, upload)

    def _record_upload(
        self, user_id, upload_id, kind, stored: uploads.StoredFile, *, field: str
    ) -> Upload:
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
                # Checked again with the file in hand: uploads running side by side each saw
                # the room before the others were recorded.
                used = session.scalar(
                    select(func.coalesce(func.sum(Upload.size_bytes), 0)).where(
                        Upload.user_id == user_id
                    )
                )
                used = int(used or 0)
                if self.quota_bytes and used + stored.size_bytes > self.quota_bytes:
                    raise QuotaExceeded(self._quota_message(used), field=field)
                session.add(upload)
        except BaseException:
            self._remove_files([stored.rel_path])  # no row, so the file must not stay either
            raise
        return upload


def _owned(session, user_id: str, upload_id: str) -> Upload | None:
    query = select(Upload).where(Upload.id == upload_id, Upload.user_id == user_id)
    return session.scalar(query)


def _projects_using(session, upload_id: str) -> list[str]:
    """The ids of the projects that refer to `upload_id` (as voice, music or background)."""
    as_file = select(Project.id).where(
        or_(Project.voice_upload_id == upload_id, Project.music_upload_id == upload_id)
    )
    as_background = select(ProjectBackground.project_id).where(
        ProjectBackground.upload_id == upload_id
    )
    return sorted(set(session.scalars(as_file)) | set(session.scalars(as_background)))


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
