"""What a caller may put into a project and ask of a render, validated at the boundary.

Field types and limits are borrowed from `ReelSpec` and its parts rather than restated, so a
project can never hold a style that the renderer would refuse.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from reelflow.engine.errors import InputError
from reelflow.models import (
    BackgroundSpec,
    CaptionSpec,
    Colour,
    EffectsSpec,
    MusicSpec,
    ReelSpec,
    TitleSpec,
    check_emphasis,
    check_platform_aspects,
    describe_validation_error,
)
from reelflow.presets import CAPTION_ANIMATION_DEFAULTS, DrawnBackgroundKind, RenderMusicChoice

M = TypeVar("M", bound=BaseModel)


def _like(model: type[BaseModel], name: str) -> Any:
    """A copy of `model`'s field `name` (type, default and limits) to declare a field with."""
    return copy.copy(model.model_fields[name])


def _annotation(model: type[BaseModel], name: str) -> Any:
    field: FieldInfo = model.model_fields[name]
    return field.annotation


MusicPreset = _annotation(MusicSpec, "preset")
Animation = _annotation(CaptionSpec, "animation")
EffectsPreset = _annotation(EffectsSpec, "preset")
Quality = _annotation(ReelSpec, "quality")
Aspect = _annotation(ReelSpec, "aspect")
Platform = _annotation(ReelSpec, "platform")
BackgroundTransition = _annotation(BackgroundSpec, "transition")
CaptionLook = _annotation(CaptionSpec, "style")
Emphasis = _annotation(CaptionSpec, "emphasis")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @classmethod
    def parse(cls: type[M], data: Mapping[str, Any] | M | None) -> M:
        """Validate `data`; raise `InputError` naming the first bad field, listing every problem."""
        if isinstance(data, cls):
            return data
        try:
            return cls.model_validate(dict(data or {}))
        except ValidationError as exc:
            raise as_input_error(exc) from None


def as_input_error(exc: ValidationError) -> InputError:
    """One `InputError` for a pydantic error: ``field`` is the first bad field's dotted name."""
    lines = describe_validation_error(exc)
    field, _, first = lines[0].partition(": ")
    if not first or " " in field:  # a model-level message, not "field: problem"
        return InputError("; ".join(lines))
    return InputError("; ".join([first, *lines[1:]]), field=field)


class BackgroundStyle(_Input):
    """How a project's background moves (its files or colours are the project's own fields)."""

    transition: BackgroundTransition = _like(BackgroundSpec, "transition")


class ProjectStyle(_Input):
    """A project's default look and sound; each render may override parts of it."""

    captions: CaptionSpec = Field(default_factory=CaptionSpec)
    effects: EffectsSpec = Field(default_factory=EffectsSpec)
    background: BackgroundStyle = Field(default_factory=BackgroundStyle)
    quality: Quality = _like(ReelSpec, "quality")
    aspect: Aspect = _like(ReelSpec, "aspect")
    aspects: list[Aspect] | None = _like(ReelSpec, "aspects")
    title: TitleSpec | None = _like(ReelSpec, "title")
    progress_bar: bool = _like(ReelSpec, "progress_bar")
    platform: Platform = _like(ReelSpec, "platform")
    music_volume: float = _like(MusicSpec, "volume")
    auto_duck: bool = _like(MusicSpec, "auto_duck")
    voice: str | None = _like(ReelSpec, "voice")
    language: str | None = _like(ReelSpec, "language")
    speaking_rate_wpm: int = _like(ReelSpec, "speaking_rate_wpm")
    # applied to projects with an uploaded voice (a script's pauses come from its punctuation)
    trim_pauses_over_s: float | None = _like(ReelSpec, "trim_pauses_over_s")

    @model_validator(mode="after")
    def _check_aspects(self) -> ProjectStyle:
        check_platform_aspects(self.platform, self.aspect, self.aspects)
        return self


class ProjectInput(_Input):
    """The fields of a project as a caller sets them (uploads by id, owned by the same user)."""

    title: str = Field(min_length=1, max_length=200)
    script: str | None = _like(ReelSpec, "script")
    transcript: str | None = _like(ReelSpec, "transcript")
    voice_upload_id: str | None = Field(default=None, max_length=32)
    background_upload_ids: list[str] = Field(default_factory=list, max_length=50)
    # Used only when there are no background uploads.
    background_type: DrawnBackgroundKind = "gradient"
    background_colors: list[Colour] = Field(default_factory=list, max_length=8)
    music_preset: MusicPreset = _like(MusicSpec, "preset")
    music_upload_id: str | None = Field(default=None, max_length=32)
    style: ProjectStyle = Field(default_factory=ProjectStyle)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        title = " ".join(value.split())
        if not title:
            raise ValueError("must not be blank")
        return title

    @field_validator("script", "transcript", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        # HTML forms send "" for an untouched field; that means "not given", not "empty text".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("voice_upload_id", "music_upload_id", mode="before")
    @classmethod
    def _blank_id(cls, value: Any) -> Any:
        return None if value == "" else value


class RenderSettings(_Input):
    """Per-render choices (the seed API's body); None keeps the project's default.

    ``wave_settings`` apply when the animation is ``wave``. ``music_preset="custom"`` keeps the
    project's uploaded track; any other preset replaces it for this render.
    """

    subtitle_animation: Animation | None = None
    wave_settings: dict[str, float] | None = None
    music_preset: RenderMusicChoice | None = None
    music_volume: float | None = Field(default=None, ge=0.0, le=1.0)
    auto_duck: bool | None = None
    effects_preset: EffectsPreset | None = None
    quality: Quality | None = None
    platform: Platform | None = None
    trim_pauses_over_s: float | None = _like(ReelSpec, "trim_pauses_over_s")
    # Issue 13's choices; each is the spec field's own type (`caption_style` is
    # `captions.style`, `emphasis` is `captions.emphasis`, `background_transition` is
    # `background.transition`).
    caption_style: CaptionLook | None = Field(
        default=None, description="A named caption look; the project's caption tuning is dropped"
    )
    emphasis: Emphasis | None = Field(
        default=None, description="auto, none, or the words to emphasise"
    )
    aspect: Aspect | None = None
    aspects: list[Aspect] | None = _like(ReelSpec, "aspects")
    title: TitleSpec | None = _like(ReelSpec, "title")
    progress_bar: bool | None = None
    voice: str | None = _like(ReelSpec, "voice")
    background_transition: BackgroundTransition | None = None

    @field_validator("emphasis", mode="before")
    @classmethod
    def _emphasis(cls, value: Any) -> Any:
        return check_emphasis(value)

    @field_validator("wave_settings")
    @classmethod
    def _wave_settings(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        known = CAPTION_ANIMATION_DEFAULTS["wave"]
        unknown = sorted(set(value or {}) - set(known))
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
        if any(v < 0 for v in (value or {}).values()):
            raise ValueError("settings must be >= 0")
        return value
