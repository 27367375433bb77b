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
from reelflow.engine.speech.languages import detect_language, voice_for
from reelflow.engine.text import tokenize
from reelflow.presets import (
    ASPECT_PRESETS,
    BACKGROUND_TYPES,
    CAPTION_ANIMATION_DEFAULTS,
    CAPTION_LOOKS,
    EFFECTS_PRESETS,
    EMPHASIS_MODES,
    PLATFORM_PRESETS,
    QUALITY_PRESETS,
    AspectName,
    BackgroundKind,
    BackgroundTransition,
    CaptionAnimation,
    CaptionColourName,
    CaptionColours,
    CaptionLookName,
    CaptionPosition,
    CaptionStyle,
    Easing,
    EffectsName,
    EffectsPreset,
    EmphasisMode,
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
    colors: list[Colour] = Field(
        default_factory=lambda: ["#0F2027", "#2C5364", "#4B2C6F", "#0E4D64"], max_length=8
    )
    transition: BackgroundTransition = Field(
        default="fade", description="Between background files, on the music's downbeats."
    )
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


def check_emphasis(value: Any) -> Any:
    """`value` if it is an emphasis mode or not a string (a list of words is checked by its
    type); a `ValueError` listing the modes otherwise."""
    if isinstance(value, str) and value not in EMPHASIS_MODES:
        modes = ", ".join(EMPHASIS_MODES)
        raise ValueError(f"{value!r} is not one of {modes} (or a list of words)")
    return value


class CaptionSpec(_Model):
    """How the words appear on screen: a named look (`style`) whose choices any field given
    beside it overrides."""

    style: CaptionLookName = Field(default="clean", description="A named caption look.")
    animation: CaptionAnimation = "highlight"
    words_per_caption: int = Field(default=3, ge=1, le=8)
    font: str = Field(default="Noto Sans", min_length=1, max_length=80)
    size: int = Field(default=96, ge=24, le=200, description="Font size in px at 1080 px width.")
    colours: dict[CaptionColourName, Colour] = Field(default_factory=dict)
    position: CaptionPosition = "bottom"
    settings: dict[str, float] = Field(default_factory=dict)
    emphasis: EmphasisMode | list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(
        default="none",
        description="auto: the words that carry the sentence; or the words to emphasise.",
    )

    @field_validator("emphasis", mode="before")
    @classmethod
    def _emphasis(cls, value: Any) -> Any:
        return check_emphasis(value)

    @model_validator(mode="before")
    @classmethod
    def _look_defaults(cls, data: Any) -> Any:
        # The look supplies every field it decides that the caller did not give, so a stored
        # (fully dumped) caption spec parses back to the same look.
        if not isinstance(data, dict):
            return data
        look = CAPTION_LOOKS.get(data.get("style", "clean"))
        if look is None:
            return data  # the field validator names the bad style
        defaults = {
            "animation": look.animation,
            "size": look.size_px,
            "position": look.position,
            "words_per_caption": look.words_per_caption,
            "emphasis": look.emphasis,
        }
        return {**defaults, **data}

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
        """The engine's view of this spec: the look, then this spec's own choices over it."""
        look = CAPTION_LOOKS[self.style]
        # The look's animation settings hold only while its animation is the one used.
        settings = dict(look.settings) if self.animation == look.animation else {}
        emphasis = self.emphasis if isinstance(self.emphasis, str) else tuple(self.emphasis)
        return CaptionStyle(
            animation=self.animation,
            words_per_caption=self.words_per_caption,
            font=self.font,
            size_px=self.size,
            colours=CaptionColours(**{**look.colours, **self.colours}),
            outline_px=look.outline_px,
            shadow_px=look.shadow_px,
            position=self.position,
            settings={**settings, **self.settings},
            upper=look.upper,
            box=look.box,
            emphasis=emphasis,
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


class TitleSpec(_Model):
    """A hook title card over the reel's opening seconds."""

    text: str = Field(min_length=1, max_length=120)
    duration_s: float = Field(default=2.5, ge=0.5, le=10.0)

    @field_validator("text")
    @classmethod
    def _words(cls, value: str) -> str:
        text = " ".join(value.split())
        if not text:
            raise ValueError("must not be blank")
        return text


class ReelSpec(_Model):
    """Everything that defines one reel. A reel is a pure function of its spec and input files."""

    voiceover: Path | None = Field(default=None, description="wav/mp3/m4a/flac/ogg voice track")
    video: Path | None = Field(
        default=None,
        description="Your own clip (mp4/mov/webm): its sound is the voice and its picture the "
        "background, reframed on the speaker's face.",
    )
    script: str | None = Field(default=None, max_length=20_000, description="text to speak")
    transcript: str | None = Field(default=None, max_length=20_000)
    background: BackgroundSpec = Field(default_factory=BackgroundSpec)
    music: MusicSpec = Field(default_factory=MusicSpec)
    captions: CaptionSpec = Field(default_factory=CaptionSpec)
    effects: EffectsSpec = Field(default_factory=EffectsSpec)
    quality: QualityName = "high"
    aspect: AspectName = Field(default="9:16", description="Picture shape of the reel.")
    aspects: list[AspectName] | None = Field(
        default=None,
        min_length=1,
        max_length=len(ASPECT_PRESETS),
        description="Several shapes at once: one video each, sharing every step before render.",
    )
    platform: PlatformName = "instagram"
    title: TitleSpec | None = Field(default=None, description="Hook title card at the start.")
    progress_bar: bool = Field(
        default=False, description="A thin bar along the top edge filling for the reel's length."
    )
    encoder: EncoderName = "auto"
    max_file_size_mb: float | None = Field(
        default=None, gt=0, description="Tighter size cap than the platform's, e.g. for messaging."
    )
    word_timings: WordTimingsSpec | None = Field(
        default=None, description="Known (e.g. hand-corrected) timings, one per transcript word."
    )
    voice: str | None = Field(
        default=None,
        pattern=r"^((espeak|piper):)?[a-z]{2,3}(-[a-z0-9]{2,8})*(\+[a-z0-9]{1,16})?$",
        description="A language or espeak-ng voice (es, en-gb+f3), espeak:<voice> or "
        "piper:<installed voice>; default: from the language, else from the script's writing "
        "(English: the neural Piper voice)",
    )
    language: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        description="BCP 47 language of the text (es, pt-BR, zh-TW); picks the voice, the "
        "aligner for uploads and the CJK glyph shapes. Default: from the writing, else English",
    )
    speaking_rate_wpm: int = Field(default=165, ge=80, le=400)
    trim_pauses_over_s: float | None = Field(
        default=None,
        ge=0.1,
        le=5.0,
        description="Shorten every pause of an uploaded voice longer than this to this many "
        "seconds (words, music, effects and picture follow); off by default.",
    )

    @field_validator("script", "transcript")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None

    @model_validator(mode="after")
    def _check_voice(self) -> ReelSpec:
        if self.video is not None:
            _check_video(self)
        elif self.voiceover is None and not self.script:
            if self.script is not None:
                raise ValueError("script: must not be empty")
            raise ValueError("give either `voiceover` (an audio file) or `script` (text to speak)")
        if self.voiceover is not None and self.script:
            raise ValueError("give `voiceover` or `script`, not both")
        if self.voiceover is not None and not self.transcript:
            raise ValueError("transcript: required with `voiceover` and must not be empty")
        if self.video is not None and not self.transcript:
            raise ValueError("transcript: required with `video` and must not be empty")
        if self.transcript is not None and not self.transcript:
            raise ValueError("transcript: must not be empty")
        if self.trim_pauses_over_s is not None and self.voiceover is None and self.video is None:
            raise ValueError(
                "trim_pauses_over_s: trims an uploaded voice (`voiceover` or `video`); a "
                "script's pauses are set by its punctuation"
            )
        tokens = tokenize(self.text)
        if not tokens:
            field = "transcript" if self.transcript is not None else "script"
            raise ValueError(f"{field}: has no words to speak or show")
        if self.word_timings is not None:
            _check_timings(self.word_timings.words, tokens)
        return self

    @model_validator(mode="after")
    def _check_aspects(self) -> ReelSpec:
        if self.aspects is not None:
            if "aspect" in self.model_fields_set and self.aspect != self.aspects[0]:
                raise ValueError("aspect: give `aspect` or `aspects`, not both")
            if len(set(self.aspects)) != len(self.aspects):
                raise ValueError("aspects: each aspect at most once")
        check_platform_aspects(self.platform, self.aspect, self.aspects)
        return self

    @property
    def output_aspects(self) -> tuple[str, ...]:
        """The aspects to render, the first one being the reel's main video."""
        return tuple(self.aspects) if self.aspects is not None else (self.aspect,)

    @property
    def speech_voice(self) -> str:
        """The espeak-ng voice a script is spoken with: `voice`, else chosen for the text."""
        return self.voice or voice_for(self.text, language=self.language)

    @property
    def text_language(self) -> str:
        """The language of the text: `language`, else the one its writing implies."""
        return detect_language(self.text, language=self.language)

    @property
    def text(self) -> str:
        """The words on screen: the transcript, or the script when no transcript is given."""
        return self.transcript or self.script or ""

    @property
    def progress_bar_colour(self) -> str | None:
        """The bar's colour (the caption look's highlight), or None without a bar."""
        return self.captions.to_style().colours.highlight if self.progress_bar else None

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
        if self.video:
            files["video"] = self.video
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
                "video": fix(self.video),
                "music": self.music.model_copy(update={"file": fix(self.music.file)}),
                "background": self.background.model_copy(
                    update={
                        "path": fix(self.background.path),
                        "paths": [fix(p) for p in self.background.paths],
                    }
                ),
            }
        )


def check_platform_aspects(platform: str, aspect: str, aspects: list[str] | None) -> None:
    """Raise `ValueError` (naming ``aspect`` or ``aspects``) if the platform does not take one of
    the asked aspects (TikTok and YouTube Shorts take vertical video only)."""
    field = "aspects" if aspects is not None else "aspect"
    preset = PLATFORM_PRESETS[platform]
    for name in aspects if aspects is not None else [aspect]:
        if name not in preset.safe_zones:
            raise ValueError(
                f"{field}: {preset.label} does not take {name} "
                f"(it takes {', '.join(preset.safe_zones)})"
            )


def _check_video(spec: ReelSpec) -> None:
    if spec.voiceover is not None or spec.script:
        raise ValueError("video: its sound is the voice; give no `voiceover` or `script` with it")
    if "background" in spec.model_fields_set:
        raise ValueError("background: the video's picture is the background; leave it out")


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
        # (function-... and union member names like list[str] are pydantic's, not fields)
        loc = ".".join(
            str(part)
            for part in err["loc"]
            if not str(part).startswith("function-") and "[" not in str(part)
        )
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
