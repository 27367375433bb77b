"""Pydantic models at reelflow's boundaries: the reel specification and its parts.

A spec is validated completely before any work starts; `describe_validation_error` turns
pydantic's errors into one line per problem, each naming the dotted field
(``music.preset: 'jazz' is not one of upbeat, chill, dramatic, gaming, auto, none``).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from reelflow.engine.errors import InputError
from reelflow.engine.text import tokenize
from reelflow.presets import (
    BACKGROUND_TYPES,
    CAPTION_ANIMATION_DEFAULTS,
    EFFECTS_PRESETS,
    PLATFORM_PRESETS,
    QUALITY_PRESETS,
    BackgroundKind,
    CaptionAnimation,
    CaptionColourName,
    CaptionColours,
    CaptionPosition,
    CaptionStyle,
    Easing,
    EffectsName,
    EffectsPreset,
    EncoderName,
    MusicChoice,
    PlatformName,
    QualityName,
    TimingMethod,
)

_HEX_COLOUR = re.compile(r"^#?[0-9a-fA-F]{6}$")
_NAMED_COLOURS = {
    "white": "#FFFFFF",
    "black": "#000000",
    "yellow": "#FFD400",
    "red": "#FF3B30",
    "green": "#34C759",
    "blue": "#0A84FF",
    "purple": "#8E44AD",
    "pink": "#FF2D95",
    "orange": "#FF9500",
    "cyan": "#00D1FF",
    "grey": "#8E8E93",
    "gray": "#8E8E93",
}


def _colour(value: str) -> str:
    text = value.strip()
    if text.lower() in _NAMED_COLOURS:
        return _NAMED_COLOURS[text.lower()]
    if not _HEX_COLOUR.match(text):
        raise ValueError(f"{value!r} is not a colour (use #RRGGBB or a name like 'white')")
    return "#" + text.lstrip("#").upper()


Colour = Annotated[str, AfterValidator(_colour)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class BackgroundSpec(_Model):
    """What the reel is drawn on. Images and videos are scaled and centre-cropped to 9:16."""

    type: BackgroundKind = "gradient"
    colors: list[Colour] = Field(default_factory=lambda: ["#0F2027", "#2C5364"], max_length=8)
    path: Path | None = None
    paths: list[Path] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _check_sources(self) -> BackgroundSpec:
        if BACKGROUND_TYPES[self.type].needs_files and not self.files:
            raise ValueError(f"a {self.type} background needs `path` or `paths`")
        if self.type == "color" and not self.colors:
            raise ValueError("a color background needs one colour in `colors`")
        if self.type == "gradient" and len(self.colors) < 2:
            raise ValueError("a gradient background needs at least two `colors`")
        return self

    @property
    def files(self) -> list[Path]:
        return ([self.path] if self.path else []) + list(self.paths)


class MusicSpec(_Model):
    """Background music: a synthesised preset, `auto` to match the voice, or a custom track."""

    preset: MusicChoice = "auto"
    file: Path | None = None
    volume: float = Field(default=0.15, ge=0.0, le=1.0)
    auto_duck: bool = True
    duck_db: float = Field(default=11.0, ge=0.0, le=30.0)


class CaptionSpec(_Model):
    """How the words appear on screen."""

    animation: CaptionAnimation = "highlight"
    words_per_caption: int = Field(default=3, ge=1, le=8)
    font: str = Field(default="Noto Sans", min_length=1, max_length=80)
    size: int = Field(default=96, ge=24, le=200, description="Font size in px at 1080 px width.")
    colours: dict[CaptionColourName, Colour] = Field(default_factory=dict)
    position: CaptionPosition = "bottom"
    settings: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_settings(self) -> CaptionSpec:
        known = CAPTION_ANIMATION_DEFAULTS[self.animation]
        unknown = sorted(set(self.settings) - set(known))
        if unknown:
            raise ValueError(
                f"unknown {self.animation} setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(known)}"
            )
        for key, value in self.settings.items():
            if value < 0:
                raise ValueError(f"setting {key} must be >= 0, got {value}")
        return self

    def to_style(self) -> CaptionStyle:
        """The engine's view of this spec."""
        return CaptionStyle(
            animation=self.animation,
            words_per_caption=self.words_per_caption,
            font=self.font,
            size_px=self.size,
            colours=CaptionColours(**self.colours),
            position=self.position,
            settings=dict(self.settings),
        )


class EffectsSpec(_Model):
    """Named camera-motion preset with optional overrides of its parameters."""

    preset: EffectsName = "dynamic"
    zoom_pulse: float | None = Field(default=None, ge=0.0, le=0.3)
    pulse_every: int | None = Field(default=None, ge=1, le=16)
    shake: float | None = Field(default=None, ge=0.0, le=60.0, description="px at 1080 width")
    zoom_speed: float | None = Field(default=None, ge=0.0, le=0.5)
    pan_speed: float | None = Field(default=None, ge=0.0, le=0.5)
    easing: Easing | None = None

    def to_preset(self) -> EffectsPreset:
        """The named preset with this spec's overrides applied."""
        base = EFFECTS_PRESETS[self.preset]
        overrides = {
            "zoom_pulse": self.zoom_pulse,
            "pulse_every": self.pulse_every,
            "shake_px": self.shake,
            "zoom_speed": self.zoom_speed,
            "pan_speed": self.pan_speed,
            "easing": self.easing,
        }
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})


class WordTimingSpec(_Model):
    """One word's interval, as the user corrected it (or as a previous alignment found it)."""

    word: str = Field(min_length=1, max_length=200)
    start: float = Field(ge=0)
    end: float = Field(gt=0)
    confidence: float = Field(default=1.0, ge=0, le=1)


class WordTimingsSpec(_Model):
    """Known word timings of the voice: when given, the reel uses them instead of aligning."""

    method: TimingMethod = "aligned"
    words: list[WordTimingSpec] = Field(max_length=20_000)


class ReelSpec(_Model):
    """Everything that defines one reel. A reel is a pure function of its spec and input files."""

    voiceover: Path | None = Field(default=None, description="wav/mp3/m4a/flac/ogg voice track")
    script: str | None = Field(default=None, max_length=20_000, description="text to speak")
    transcript: str | None = Field(default=None, max_length=20_000)
    background: BackgroundSpec = Field(default_factory=BackgroundSpec)
    music: MusicSpec = Field(default_factory=MusicSpec)
    captions: CaptionSpec = Field(default_factory=CaptionSpec)
    effects: EffectsSpec = Field(default_factory=EffectsSpec)
    quality: QualityName = "high"
    platform: PlatformName = "instagram"
    encoder: EncoderName = "auto"
    max_file_size_mb: float | None = Field(
        default=None, gt=0, description="Tighter size cap than the platform's, e.g. for messaging."
    )
    word_timings: WordTimingsSpec | None = Field(
        default=None, description="Known (e.g. hand-corrected) timings, one per transcript word."
    )
    voice: str = Field(default="en-us", pattern=r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
    speaking_rate_wpm: int = Field(default=165, ge=80, le=400)

    @field_validator("script", "transcript")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None

    @model_validator(mode="after")
    def _check_voice(self) -> ReelSpec:
        if self.voiceover is None and not self.script:
            if self.script is not None:
                raise ValueError("script: must not be empty")
            raise ValueError("give either `voiceover` (an audio file) or `script` (text to speak)")
        if self.voiceover is not None and self.script:
            raise ValueError("give `voiceover` or `script`, not both")
        if self.voiceover is not None and not self.transcript:
            raise ValueError("transcript: required with `voiceover` and must not be empty")
        if self.transcript is not None and not self.transcript:
            raise ValueError("transcript: must not be empty")
        tokens = tokenize(self.text)
        if not tokens:
            field = "transcript" if self.transcript is not None else "script"
            raise ValueError(f"{field}: has no words to speak or show")
        if self.word_timings is not None:
            _check_timings(self.word_timings.words, tokens)
        return self

    @property
    def text(self) -> str:
        """The words on screen: the transcript, or the script when no transcript is given."""
        return self.transcript or self.script or ""

    @property
    def quality_preset(self):
        return QUALITY_PRESETS[self.quality]

    @property
    def platform_preset(self):
        return PLATFORM_PRESETS[self.platform]

    def input_files(self) -> dict[str, Path]:
        """Every file the spec points at, keyed by the field that names it."""
        files: dict[str, Path] = {}
        if self.voiceover:
            files["voiceover"] = self.voiceover
        if self.music.file:
            files["music.file"] = self.music.file
        if self.background.path:
            files["background.path"] = self.background.path
        for i, p in enumerate(self.background.paths):
            files[f"background.paths.{i}"] = p
        return files

    def resolve_paths(self, base_dir: Path) -> ReelSpec:
        """Make relative file paths relative to `base_dir` (the spec file's folder)."""

        def fix(p: Path | None) -> Path | None:
            return p if p is None or p.is_absolute() else (base_dir / p)

        return self.model_copy(
            update={
                "voiceover": fix(self.voiceover),
                "music": self.music.model_copy(update={"file": fix(self.music.file)}),
                "background": self.background.model_copy(
                    update={
                        "path": fix(self.background.path),
                        "paths": [fix(p) for p in self.background.paths],
                    }
                ),
            }
        )


def _check_timings(words: list[WordTimingSpec], tokens: tuple[str, ...]) -> None:
    if [w.word for w in words] != list(tokens):
        raise ValueError(
            f"word_timings: {len(words)} timings do not match the {len(tokens)} words of the "
            "transcript (one per word, in order, spelled as in the transcript)"
        )
    previous_end = 0.0
    for i, w in enumerate(words):
        if not w.start < w.end:
            raise ValueError(f"word_timings.words.{i}: start {w.start} is not before end {w.end}")
        if w.start < previous_end - 1e-6:
            raise ValueError(f"word_timings.words.{i}: starts before the previous word ends")
        previous_end = w.end


def field_of(path: str) -> FieldInfo:
    """The `ReelSpec` field at a dotted path (``music.preset``), through optional parts."""
    model: type[BaseModel] = ReelSpec
    *parents, name = path.split(".")
    for part in parents:
        annotation = model.model_fields[part].annotation
        model = next(
            t
            for t in (annotation, *get_args(annotation))
            if isinstance(t, type) and issubclass(t, BaseModel)
        )
    return model.model_fields[name]


def describe_validation_error(exc: ValidationError) -> list[str]:
    """One line per problem, each starting with the dotted field name."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"] if not str(part).startswith("function-"))
        message = _message(err)
        if loc and not message.startswith(f"{loc}:"):
            lines.append(f"{loc}: {message}")
        else:
            lines.append(message)
    return lines


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "literal_error":
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"{err['input']!r} is not one of {', '.join(expected)}"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"][0].lower() + err["msg"][1:]


def parse_spec(data: dict[str, Any], *, base_dir: Path | None = None) -> ReelSpec:
    """Validate a spec mapping; raise `InputError` with every problem, one per line."""
    try:
        spec = ReelSpec.model_validate(data)
    except ValidationError as exc:
        raise InputError("; ".join(describe_validation_error(exc))) from None
    return spec.resolve_paths(base_dir) if base_dir else spec


def load_spec(path: Path) -> ReelSpec:
    """Read a YAML or JSON spec file; relative paths inside it are relative to the file."""
    if not path.is_file():
        raise InputError(f"spec file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise InputError(f"{path.name} is not valid {kind}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path.name}: expected a mapping of spec fields at the top level")
    return parse_spec(data, base_dir=path.parent.resolve())
