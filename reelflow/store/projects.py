"""Projects: create, read, update, delete, word timings and the render spec, scoped by user.

Every lookup filters on the user, so another user's project id behaves exactly like a missing
one (None / False), which the API answers with 404. Files are removed only after the commit
that stopped referring to them: a failed operation never loses a user's file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from reelflow.engine.errors import InputError
from reelflow.engine.text import tokenize
from reelflow.engine.timing import WordTimings
from reelflow.models import ReelSpec
from reelflow.presets import DRAWN_BACKGROUNDS
from reelflow.store import timings as timing_json
from reelflow.store.files import Files, drop_unused
from reelflow.store.inputs import ProjectInput, RenderSettings
from reelflow.store.schema import Project, ProjectBackground, Upload, new_id
from reelflow.store.spec import build_spec

_FIELD_PREFIX = re.compile(r"^([A-Za-z_][\w.]*): (.*)$", re.DOTALL)


class Projects(Files):
    """Project queries."""

    def create_project(self, user_id: str, data: ProjectInput | Mapping[str, Any]) -> Project:
        """Create a project of `user_id` from `data` (uploads given by id, the user's own).

        Raises `InputError` naming the field when the data is invalid, an upload id is unknown
        or of the wrong kind, or the project could not be rendered as it stands.
        """
        fields = ProjectInput.parse(data)
        with self.session() as session:
            project = Project(id=new_id(), user_id=user_id)
            self._apply(session, project, fields)
            session.add(project)
        return project

    def get_project(self, user_id: str, project_id: str) -> Project | None:
        """The user's project `project_id`, or None."""
        with self.session() as session:
            return _owned(session, user_id, project_id)

    def list_projects(self, user_id: str) -> list[Project]:
        """The user's projects, newest first."""
        query = select(Project).where(Project.user_id == user_id)
        with self.session() as session:
            return list(session.scalars(query.order_by(Project.created_at.desc(), Project.id)))

    def update_project(
        self, user_id: str, project_id: str, changes: Mapping[str, Any]
    ) -> Project | None:
        """Change some fields of the user's project; None if there is no such project.

        `changes` holds `ProjectInput` fields; ``style`` is merged key by key into the current
        style. Changing the script, transcript, voice or language drops the stored word timings
        (they describe other words or other audio). Voice and background uploads no project uses any
        more are deleted after the change is committed.
        """
        with self.session() as session:
            project = _owned(session, user_id, project_id, for_update=True)
            if project is None:
                return None
            current = _as_input(project)
            if isinstance(changes.get("style"), Mapping):
                changes = {**changes, "style": {**current["style"], **changes["style"]}}
            fields = ProjectInput.parse({**current, **changes})
            before = project.upload_ids()
            self._apply(session, project, fields)
            session.flush()
            removed = drop_unused(session, before - project.upload_ids())
        self._remove_files(removed)
        return project

    def delete_project(self, user_id: str, project_id: str) -> bool:
        """Delete the user's project; False if there is no such project.

        Its voice and background files go too unless another project uses them; music uploads
        stay in the user's library; its tasks stay, without the project link.
        """
        with self.session() as session:
            project = _owned(session, user_id, project_id, for_update=True)
            if project is None:
                return False
            candidates = project.upload_ids()
            session.delete(project)
            session.flush()
            removed = drop_unused(session, candidates)
        self._remove_files(removed)
        return True

    def set_word_timings(
        self, user_id: str, project_id: str, timings: WordTimings, *, duration_s: float
    ) -> Project | None:
        """Store timings (from alignment or synthesis) for audio of `duration_s` seconds.

        Raises `InputError` unless there is one timing per transcript word, in order, inside
        the audio. Replaces earlier timings and their corrections.
        """
        with self.session() as session:
            project = _owned(session, user_id, project_id, for_update=True)
            if project is None:
                return None
            text = project.transcript or project.script or ""
            timing_json.check_timings(timings, tokenize(text), duration_s=duration_s)
            project.word_timings = timing_json.to_json(timings, duration_s=duration_s)
            project.timings_method = timings.method
        return project

    def correct_word_timings(
        self,
        user_id: str,
        project_id: str,
        corrections: Mapping[Any, Any],
        *,
        duration_s: float | None = None,
    ) -> WordTimings | None:
        """Apply hand corrections (``{"3": [1.2, 1.5]}``: word index -> start and end seconds).

        Validated by `reelflow.engine.alignment.align.apply_corrections` against the audio length
        (`duration_s`, else the one stored with the timings, else the voice upload's). Returns
        the corrected timings, None if there is no such project; `InputError` naming
        ``corrections[INDEX]`` for an impossible correction or when nothing is timed yet.
        """
        with self.session() as session:
            project = _owned(session, user_id, project_id, for_update=True)
            if project is None:
                return None
            stored = project.word_timings
            current = timing_json.from_json(stored)
            if stored is None or current is None:
                message = "this project has no word timings yet; render it first"
                raise InputError(message, field="corrections")
            voice_s = project.voice.duration_s if project.voice else None
            total_s = duration_s or stored.get("duration_s") or voice_s or current.last_end_s
            corrected = timing_json.apply(current, corrections, duration_s=total_s)
            indices = timing_json.parse_corrections(corrections)
            done = timing_json.stored_corrections(stored) | {
                i: (corrected.words[i].start_s, corrected.words[i].end_s) for i in indices
            }
            project.word_timings = timing_json.to_json(
                corrected, duration_s=total_s, corrections=done
            )
            project.timings_method = corrected.method
        return corrected

    def project_spec(
        self, project: Project, overrides: RenderSettings | Mapping[str, Any] | None = None
    ) -> ReelSpec:
        """The `ReelSpec` to render `project` with this request's settings applied.

        Raises `InputError` (with the field named) when the combination is not renderable.
        """
        try:
            return build_spec(project, uploads_dir=self.uploads_dir, settings=overrides)
        except InputError as exc:
            raise _with_field(exc) from None

    def _apply(self, session, project: Project, fields: ProjectInput) -> None:
        """Copy `fields` onto `project`, resolving upload ids to the user's own uploads."""
        user_id = project.user_id
        voice = _upload(session, user_id, fields.voice_upload_id, "voice", "voiceover")
        music = _upload(session, user_id, fields.music_upload_id, "music", "music")
        backgrounds = [
            _upload(session, user_id, upload_id, "background", "background")
            for upload_id in fields.background_upload_ids
        ]
        _check_sources(fields, backgrounds)
        old_style = project.style or {}
        # What the timings were made from: the words, the audio, and the voice/language that
        # spoke or aligned them.
        old_text = (
            project.script,
            project.transcript,
            project.voice_upload_id,
            old_style.get("voice"),
            old_style.get("language"),
        )
        project.title = fields.title
        project.script = fields.script
        project.transcript = fields.transcript
        project.voice, project.voice_upload_id = voice, fields.voice_upload_id
        project.music_upload, project.music_upload_id = music, fields.music_upload_id
        project.music_preset = fields.music_preset
        project.background_links = [
            ProjectBackground(position=i, upload=u, upload_id=u.id)
            for i, u in enumerate(backgrounds)
            if u is not None
        ]
        project.background_type = backgrounds[0].media if backgrounds else fields.background_type
        project.background_colors = list(fields.background_colors)
        project.style = fields.style.model_dump(mode="json")
        new_text = (
            fields.script,
            fields.transcript,
            fields.voice_upload_id,
            fields.style.voice,
            fields.style.language,
        )
        if old_text != new_text:
            project.word_timings = None
            project.timings_method = None
        self.project_spec(project)  # refuse a project that could not be rendered


def _owned(session, user_id: str, project_id: str, *, for_update: bool = False):
    query = select(Project).where(Project.id == project_id, Project.user_id == user_id)
    if for_update:  # concurrent edits of one project queue up instead of losing one another
        query = query.with_for_update()
    return session.scalar(query)


def _upload(session, user_id: str, upload_id: str | None, kind: str, field: str) -> Upload | None:
    if upload_id is None:
        return None
    upload = session.scalar(select(Upload).where(Upload.id == upload_id, Upload.user_id == user_id))
    if upload is None:
        raise InputError(f"no such upload: {upload_id}", field=field)
    if upload.kind != kind:
        raise InputError(f"upload {upload_id} is a {upload.kind} file, not {kind}", field=field)
    return upload


def _check_sources(fields: ProjectInput, backgrounds: list[Upload | None]) -> None:
    if fields.voice_upload_id and fields.script:
        raise InputError("give a voiceover or a script, not both", field="script")
    if not fields.voice_upload_id and not fields.script:
        raise InputError("give a script (text to speak) or a voiceover file", field="script")
    if fields.voice_upload_id and not fields.transcript:
        raise InputError("required with a voiceover and must not be empty", field="transcript")
    if len({u.media for u in backgrounds if u is not None}) > 1:
        raise InputError("mixes images and videos; use only one kind", field="background")


def _as_input(project: Project) -> dict[str, Any]:
    return {
        "title": project.title,
        "script": project.script,
        "transcript": project.transcript,
        "voice_upload_id": project.voice_upload_id,
        "background_upload_ids": [link.upload_id for link in project.background_links],
        "background_type": project.background_type
        if project.background_type in DRAWN_BACKGROUNDS
        else "gradient",
        "background_colors": list(project.background_colors or []),
        "music_preset": project.music_preset,
        "music_upload_id": project.music_upload_id,
        "style": dict(project.style or {}),
    }


def _with_field(exc: InputError) -> InputError:
    """Give a spec error its field when the message starts with one (``transcript: ...``)."""
    if exc.field is not None:
        return exc
    match = _FIELD_PREFIX.match(exc.reason)
    return InputError(match.group(2), field=match.group(1)) if match else exc
