"""Request and response bodies of the API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from reelflow.store import RenderSettings
from reelflow.store.schema import Project, Upload, User, UserWebhook
from reelflow.webhooks import WebhookUrl

WordIndex = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,6}$")]
Seconds = Annotated[float, Field(ge=0, le=86_400, allow_inf_nan=False)]
ProjectId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class RenderRequest(RenderSettings):
    """The seed's render body; every field is optional and None keeps the project's default.

    `scheduled_time` (ISO 8601, UTC when no offset is given) starts the run later.
    """

    scheduled_time: datetime | None = None
    webhook_url: WebhookUrl | None = Field(
        default=None,
        description="http(s) URL POSTed (signed) when the run completes, fails or is cancelled; "
        "default: the user's webhook URL (PUT /api/v1/me/webhook)",
    )

    def render_settings(self) -> dict[str, Any]:
        """The fields the spec builder reads."""
        return self.model_dump(exclude={"scheduled_time", "webhook_url"}, exclude_none=True)


class BatchRequest(BaseModel):
    """Many projects rendered with the same settings as one batch run."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    project_ids: list[ProjectId] = Field(min_length=1, max_length=50)
    settings: RenderRequest = Field(default_factory=RenderRequest)


class CorrectionsRequest(BaseModel):
    """Hand corrections of word timings: word index -> [start_s, end_s]."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    corrections: dict[WordIndex, tuple[Seconds, Seconds]] = Field(min_length=1, max_length=5000)


class Me(BaseModel):
    id: str
    name: str
    plan: str

    @classmethod
    def of(cls, user: User) -> Me:
        """The API view of a store `User`."""
        return cls(id=user.id, name=user.name, plan=user.plan)


class WebhookIn(BaseModel):
    """The user's default webhook; `rotate_secret` issues a new signing secret."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl | None = Field(description="http(s) URL; null removes the default")
    rotate_secret: bool = False


class WebhookOut(BaseModel):
    url: str | None
    secret: str = Field(description="HMAC-SHA256 key of the X-Reelflow-Signature header")
    signature_header: str = "X-Reelflow-Signature"

    @classmethod
    def of(cls, webhook: UserWebhook) -> WebhookOut:
        """The API view of a store `UserWebhook`."""
        return cls(url=webhook.url, secret=webhook.secret)


class UploadOut(BaseModel):
    id: str
    kind: str
    media: str
    name: str
    content_type: str
    size_bytes: int
    duration_s: float
    bpm: float | None = None
    mood: str | None = None
    created_at: datetime

    @classmethod
    def of(cls, upload: Upload) -> UploadOut:
        """The API view of a store `Upload`."""
        details = upload.details or {}
        return cls(
            id=upload.id,
            kind=upload.kind,
            media=upload.media,
            name=upload.original_name,
            content_type=upload.content_type,
            size_bytes=upload.size_bytes,
            duration_s=upload.duration_s,
            bpm=details.get("bpm"),
            mood=details.get("mood"),
            created_at=upload.created_at,
        )


class ProjectOut(BaseModel):
    id: str
    title: str
    script: str | None
    transcript: str | None
    voiceover: UploadOut | None
    backgrounds: list[UploadOut]
    background_type: str
    background_colors: list[str]
    music_preset: str
    music: UploadOut | None
    style: dict[str, Any]
    timings_method: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, project: Project) -> ProjectOut:
        """The API view of a store `Project`."""
        return cls(
            id=project.id,
            title=project.title,
            script=project.script,
            transcript=project.transcript,
            voiceover=UploadOut.of(project.voice) if project.voice else None,
            backgrounds=[UploadOut.of(u) for u in project.background_uploads],
            background_type=project.background_type,
            background_colors=list(project.background_colors or []),
            music_preset=project.music_preset,
            music=UploadOut.of(project.music_upload) if project.music_upload else None,
            style=dict(project.style or {}),
            timings_method=project.timings_method,
            created_at=project.created_at,
            updated_at=project.updated_at,
        )


class WordOut(BaseModel):
    index: int
    word: str
    start_s: float
    end_s: float
    confidence: float


class WordTimingsOut(BaseModel):
    project_id: str
    method: str | None = Field(description="None until a render has timed the words")
    duration_s: float | None = None
    words: list[WordOut] = Field(default_factory=list)
    corrections: dict[str, list[float]] = Field(default_factory=dict)


class TriggerOut(BaseModel):
    task_id: str
    status: str
    status_url: str
    websocket_url: str
    deployment: str
    work_queue: str
    scheduled_time: datetime | None = None


class BatchOut(TriggerOut):
    children: list[str] = Field(
        default_factory=list,
        description="Child task ids known so far; a batch creates its children when it starts, "
        "so they appear in its task status (and on the WebSocket) from then on.",
    )


class ChildOut(BaseModel):
    task_id: str
    status: str
    progress: float | None = None


class QueueOut(BaseModel):
    """Where a waiting reel stands (an estimate: see reelflow/api/queue_board.py)."""

    position: int | None = Field(
        description="1 = the next reel to start in its pool; null while its scheduled time is "
        "still ahead"
    )
    waiting: int = Field(description="Reels waiting in the same pool now")
    work_queue: str | None = None
    expected_start: datetime = Field(description="Estimated start (UTC)")


class TaskStatusOut(BaseModel):
    task_id: str
    kind: str
    project_id: str | None = None
    parent_id: str | None = None
    status: str
    stage: str = ""
    progress: float = 0.0
    details: str = ""
    error: str | None = None
    seq: int = 0
    attempt: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None
    scheduled_time: datetime | None = None
    output: dict[str, str] | None = Field(default=None, description="Download URLs when done")
    renditions: dict[str, str] | None = Field(
        default=None,
        description="Aspect -> download URL of each video of a finished reel (the main one "
        "first); add &file=poster for its poster",
    )
    children: list[ChildOut] | None = None
    queue: QueueOut | None = Field(default=None, description="While the status is `queued`")
    warnings: list[str] = Field(
        default_factory=list,
        description="What the finished reel could not do as asked, e.g. characters no bundled "
        "font draws (left out of the captions rather than drawn as boxes)",
    )


class ReelOut(BaseModel):
    """One of the caller's past reels."""

    task_id: str
    project_id: str | None = None
    status: str = Field(description="'unknown' once its progress record has expired")
    created_at: datetime
    output: dict[str, str] | None = Field(default=None, description="Download URLs when done")
    renditions: dict[str, str] | None = Field(
        default=None, description="Aspect -> download URL of each video, when done"
    )


class CancelOut(BaseModel):
    task_id: str
    status: str
    cancelled: list[str] = Field(default_factory=list)


class MusicTrackOut(BaseModel):
    id: str
    source: str = Field(description="'preset' or 'upload'")
    name: str
    bpm: float | None = None
    mood: str | None = None
    duration_s: float | None = None


class OptionChoiceOut(BaseModel):
    name: str
    description: str


class OptionOut(BaseModel):
    default: str | None = Field(description="What the spec uses when the field is not given")
    choices: list[OptionChoiceOut]


class HealthOut(BaseModel):
    status: str
    checks: dict[str, dict[str, Any]]
