"""The project store's tables as typed SQLAlchemy 2 models.

Ids are random strings generated here, never database sequences, so they can be shown to users
without revealing counts and so a task's id can be the Prefect flow run id. Every row that belongs
to a user carries `user_id`; the store's queries always filter on it, which is what makes another
user's id behave exactly like a missing one.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from reelflow.engine.timing import WordTimings
from reelflow.store.timings import from_json as timings_from_json

Plan = Literal["standard", "premium"]
UploadKind = Literal["voice", "music", "background"]
MediaKind = Literal["audio", "image", "video"]

PLANS: tuple[str, ...] = ("standard", "premium")
UPLOAD_KINDS: tuple[str, ...] = ("voice", "music", "background")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_user_id() -> str:
    """16 hex characters: short enough for a URL (``/ws/{user_id}``), 64 random bits."""
    return secrets.token_hex(8)


def new_id() -> str:
    """A uuid4 in hex, for projects and uploads."""
    return uuid.uuid4().hex


def new_webhook_secret() -> str:
    """256 random bits, hex: the HMAC key of a user's webhook signatures."""
    return secrets.token_hex(32)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'id', '?')}>"


class User(Base):
    """Someone who calls the API. Only a hash of the token is kept."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("plan in ('standard', 'premium')", name="ck_users_plan"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_user_id)
    name: Mapped[str] = mapped_column(String(100))
    plan: Mapped[str] = mapped_column(String(16), default="standard")
    # The public half of the token, so authentication is one indexed lookup.
    token_id: Mapped[str] = mapped_column(String(32), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    # Optional: from this moment on the token no longer authenticates.
    token_expires_at: Mapped[datetime | None] = mapped_column(default=None, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserWebhook(Base):
    """A user's webhook: the secret that signs every delivery and the default target URL.

    A table of its own (not columns of `users`) so existing databases gain it through
    ``create_all`` without a migration.
    """

    __tablename__ = "user_webhooks"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    url: Mapped[str | None] = mapped_column(String(2000), default=None)
    secret: Mapped[str] = mapped_column(String(64), default=new_webhook_secret)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Upload(Base):
    """A file a user sent, checked by content and stored under a generated name."""

    __tablename__ = "uploads"
    __table_args__ = (
        CheckConstraint("kind in ('voice', 'music', 'background')", name="ck_uploads_kind"),
        CheckConstraint("media in ('audio', 'image', 'video')", name="ck_uploads_media"),
        Index("ix_uploads_user_kind", "user_id", "kind"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    media: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300), unique=True, doc="relative to uploads_dir")
    original_name: Mapped[str] = mapped_column(String(255), doc="sanitised, for display only")
    content_type: Mapped[str] = mapped_column(String(100), doc="from the detected format")
    format_name: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    duration_s: Mapped[float] = mapped_column(Float)
    # Room for facts computed later (BPM and mood of a music upload) without a migration.
    details: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectBackground(Base):
    """One background upload of a project, at its place in the sequence."""

    __tablename__ = "project_backgrounds"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    upload_id: Mapped[str] = mapped_column(ForeignKey("uploads.id"), index=True)
    upload: Mapped[Upload] = relationship(lazy="selectin")


class Project(Base):
    """A reel's inputs and default style; renders take it plus per-request settings."""

    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    script: Mapped[str | None] = mapped_column(Text)
    transcript: Mapped[str | None] = mapped_column(Text)
    voice_upload_id: Mapped[str | None] = mapped_column(ForeignKey("uploads.id"), index=True)
    # "color" or "gradient" use background_colors; "image" or "video" use the uploads.
    background_type: Mapped[str] = mapped_column(String(16), default="gradient")
    background_colors: Mapped[list[str]] = mapped_column(default=list)
    music_preset: Mapped[str] = mapped_column(String(16), default="auto")
    music_upload_id: Mapped[str | None] = mapped_column(ForeignKey("uploads.id"), index=True)
    style: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # {"method", "duration_s", "words": [{"word", "start_s", "end_s", "confidence"}], ...}
    word_timings: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    timings_method: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # selectin: projects leave their session fully loaded, so callers never hit lazy loads.
    voice: Mapped[Upload | None] = relationship(foreign_keys=[voice_upload_id], lazy="selectin")
    music_upload: Mapped[Upload | None] = relationship(
        foreign_keys=[music_upload_id], lazy="selectin"
    )
    background_links: Mapped[list[ProjectBackground]] = relationship(
        order_by=ProjectBackground.position, cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def background_uploads(self) -> list[Upload]:
        """The background files in play order."""
        return [link.upload for link in self.background_links]

    @property
    def timings(self) -> WordTimings | None:
        """The latest word timings (corrections applied), or None before the first render."""
        return timings_from_json(self.word_timings)

    def upload_ids(self) -> set[str]:
        """Every upload this project refers to."""
        ids = {link.upload_id for link in self.background_links}
        ids.update(i for i in (self.voice_upload_id, self.music_upload_id) if i)
        return ids


class Task(Base):
    """A render a user started, so ownership survives an API restart.

    A task the API accepted is answered with its id at once and its flow run is created behind
    it (reelflow/api/intake.py): until then `creation` holds what to create, so a trigger an API
    process accepted is created even if that process dies. Runs the API did not create itself
    (a batch's children, runs recorded before intake) have no `flow_run_id`: their id is the
    flow run's.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_user_created", "user_id", "created_at"),
        Index("ux_tasks_user_run_key", "user_id", "run_key", unique=True),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, doc="the task id")
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # A deleted project keeps its task history; the task just loses the link.
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL"), index=True
    )
    parent_id: Mapped[str | None] = mapped_column(String(64), index=True, doc="batch run id")
    kind: Mapped[str] = mapped_column(String(16), default="reel")
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    flow_run_id: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    # The idempotency key the task was started under: one task per user and key.
    run_key: Mapped[str | None] = mapped_column(String(64), default=None)
    # What to create in Prefect, while the flow run does not exist yet (then None).
    creation: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    pending: Mapped[bool] = mapped_column(default=False, index=True)

    @property
    def run_id(self) -> str | None:
        """The Prefect flow run's id; None while it is being created."""
        if self.flow_run_id:
            return self.flow_run_id
        return None if self.pending else self.id


__all__ = [
    "PLANS",
    "UPLOAD_KINDS",
    "Base",
    "MediaKind",
    "Plan",
    "Project",
    "ProjectBackground",
    "Task",
    "Upload",
    "UploadKind",
    "User",
    "UserWebhook",
    "new_id",
    "new_user_id",
    "utcnow",
]
