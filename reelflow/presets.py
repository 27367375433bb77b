"""Quality, platform, music, effects, caption and other option tables, as data.

Plain frozen dataclasses so the engine can take them as arguments without importing anything
heavier. Every option is one table keyed by name; its Literal type is derived from the table by
`names_of` (at the end of this module), so adding a name to a table adds it to the spec models,
the store, the API and the web page at once. `OPTION_TABLES` says which spec field each names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal


@dataclass(frozen=True)
class QualityPreset:
    """Output size, frame rate and encoder settings of one quality level."""

    name: str
    width: int
    height: int
    fps: int
    crf: int
    x264_preset: str
    nvenc_preset: str
    nvenc_cq: int
    max_video_kbps: int
    audio_kbps: int

    @property
    def description(self) -> str:
        return f"{self.width}×{self.height}, {self.fps} fps"


QUALITY_PRESETS: dict[str, QualityPreset] = {
    q.name: q
    for q in (
        QualityPreset("low", 540, 960, 30, 28, "veryfast", "p3", 30, 2_500, 128),
        QualityPreset("medium", 720, 1280, 30, 24, "veryfast", "p4", 26, 5_000, 160),
        QualityPreset("high", 1080, 1920, 30, 21, "veryfast", "p5", 23, 10_000, 192),
        QualityPreset("ultra", 2160, 3840, 60, 19, "veryfast", "p6", 20, 40_000, 256),
    )
}


@dataclass(frozen=True)
class AspectPreset:
    """One picture shape. Sizes derive from the quality table: the quality's width is the
    short side (the height for a landscape aspect), the long side follows the ratio."""

    name: str
    label: str
    across: int  # the ratio's width
    down: int  # the ratio's height

    @property
    def description(self) -> str:
        return self.label

    @property
    def vertical(self) -> bool:
        return self.down > self.across

    def size(self, quality: QualityPreset) -> tuple[int, int]:
        """(width, height) of this aspect at `quality`, both even (yuv420p needs even sizes)."""
        short = quality.width
        long = 2 * round(short * max(self.across, self.down) / min(self.across, self.down) / 2)
        return (short, long) if self.down >= self.across else (long, short)


ASPECT_PRESETS: dict[str, AspectPreset] = {
    a.name: a
    for a in (
        AspectPreset("9:16", "vertical, full screen on phones", 9, 16),
        AspectPreset("4:5", "portrait, the tallest feed post", 4, 5),
        AspectPreset("1:1", "square", 1, 1),
        AspectPreset("16:9", "landscape, as on a television", 16, 9),
    )
}


@dataclass(frozen=True)
class SafeZone:
    """Fractions of the frame covered by the platform's own interface, per edge."""

    top: float
    bottom: float
    left: float
    right: float


@dataclass(frozen=True)
class PlatformPreset:
    """Upload limits and interface geometry of one destination."""

    name: str
    label: str
    max_duration_s: float
    max_file_size_mb: float
    loudness_lufs: float
    true_peak_dbtp: float
    # The aspects the destination takes, each with the frame area its interface covers.
    safe_zones: Mapping[str, SafeZone]

    @property
    def description(self) -> str:
        return f"{self.label} ({', '.join(self.safe_zones)})"

    @property
    def safe_zone(self) -> SafeZone:
        """The safe zone of the platform's first (native) aspect."""
        return next(iter(self.safe_zones.values()))

    def safe_zone_for(self, aspect: str) -> SafeZone:
        """The safe zone at `aspect`; `KeyError` if the platform does not take that aspect."""
        return self.safe_zones[aspect]


# Limits as the platforms publish them for uploads (Nov 2026); safe zones keep captions clear of
# the username, description, music ticker and the column of action buttons.
PLATFORM_PRESETS: dict[str, PlatformPreset] = {
    p.name: p
    for p in (
        PlatformPreset(
            name="instagram",
            label="Instagram Reels",
            max_duration_s=180,
            max_file_size_mb=4_000,
            loudness_lufs=-14,
            true_peak_dbtp=-1,
            # Feed posts (4:5, 1:1, 16:9) carry their interface around the picture, not over it.
            safe_zones={
                "9:16": SafeZone(top=0.12, bottom=0.22, left=0.06, right=0.12),
                "4:5": SafeZone(top=0.06, bottom=0.1, left=0.05, right=0.05),
                "1:1": SafeZone(top=0.06, bottom=0.1, left=0.05, right=0.05),
                "16:9": SafeZone(top=0.08, bottom=0.12, left=0.05, right=0.05),
            },
        ),
        PlatformPreset(
            name="tiktok",
            label="TikTok",
            max_duration_s=600,
            max_file_size_mb=287,
            loudness_lufs=-14,
            true_peak_dbtp=-1,
            safe_zones={"9:16": SafeZone(top=0.1, bottom=0.22, left=0.06, right=0.15)},
        ),
        PlatformPreset(
            name="youtube_shorts",
            label="YouTube Shorts",
            max_duration_s=180,
            max_file_size_mb=2_000,
            loudness_lufs=-14,
            true_peak_dbtp=-1,
            safe_zones={"9:16": SafeZone(top=0.1, bottom=0.2, left=0.06, right=0.14)},
        ),
        PlatformPreset(
            name="generic",
            label="Generic",
            max_duration_s=3_600,
            max_file_size_mb=4_000,
            loudness_lufs=-14,
            true_peak_dbtp=-1,
            safe_zones={
                "9:16": SafeZone(top=0.05, bottom=0.08, left=0.05, right=0.05),
                "4:5": SafeZone(top=0.05, bottom=0.06, left=0.05, right=0.05),
                "1:1": SafeZone(top=0.05, bottom=0.06, left=0.05, right=0.05),
                "16:9": SafeZone(top=0.06, bottom=0.08, left=0.04, right=0.04),
            },
        ),
    )
}


@dataclass(frozen=True)
class MusicPreset:
    """A synthesised backing track: tempo, mood and what the synthesiser plays."""

    name: str
    bpm: float
    mood: str
    energy: float  # 0..1, matched against the voice's energy by automatic selection
    key_root_midi: int
    minor: bool
    swing: float = 0.0

    @property
    def description(self) -> str:
        return f"{self.bpm:g} BPM, {self.mood}"


MUSIC_PRESETS: dict[str, MusicPreset] = {
    m.name: m
    for m in (
        MusicPreset("upbeat", 128, "happy, energetic pop", 0.75, 60, False),
        MusicPreset("chill", 90, "relaxed lo-fi", 0.3, 57, True, swing=0.12),
        MusicPreset("dramatic", 100, "tense, cinematic", 0.55, 50, True),
        MusicPreset("gaming", 140, "intense electronic", 0.9, 55, True),
    )
}

# Music a spec may ask for besides a synthesised preset.
MUSIC_MODES: dict[str, str] = {
    "auto": "a preset picked to fit the voice's pace and energy",
    "none": "no music",
}
MUSIC_CHOICES: dict[str, MusicPreset | str] = {**MUSIC_PRESETS, **MUSIC_MODES}
# A render of a stored project may also keep the project's own uploaded track.
RENDER_MUSIC_CHOICES: dict[str, MusicPreset | str] = {
    **MUSIC_CHOICES,
    "custom": "the project's uploaded track",
}

# In-out curves of camera motion; the engine holds each one's ffmpeg expression.
EASINGS: dict[str, str] = {
    "linear": "constant speed",
    "sine": "gentle start and stop",
    "quad": "soft start and stop",
    "cubic": "firm start and stop",
    "expo": "snappy start and stop",
}


@dataclass(frozen=True)
class EffectsPreset:
    """Camera motion of a reel: beat zoom pulses, shake on energy peaks, slow pan and zoom."""

    name: str
    zoom_pulse: float  # extra zoom at a beat, as a fraction (0.05 = 5 %)
    pulse_every: int  # pulse on every Nth beat (1 = every beat, 4 = once a bar)
    pulse_decay_s: float
    shake_px: float  # peak shake offset in pixels at 1080 px width
    shake_decay_s: float
    zoom_speed: float  # slow zoom, fraction per 10 s
    pan_speed: float  # slow pan, fraction of the frame width per 10 s
    easing: Easing

    @property
    def description(self) -> str:
        pulse = f"{self.zoom_pulse:.0%} zoom every {self.pulse_every} beat(s)"
        shake = f"{self.shake_px:g} px shake"
        return ", ".join(
            [pulse if self.zoom_pulse else "no pulses", shake if self.shake_px else "no shake"]
        )


EFFECTS_PRESETS: dict[str, EffectsPreset] = {
    e.name: e
    for e in (
        EffectsPreset("none", 0.0, 1, 0.25, 0.0, 0.2, 0.0, 0.0, "linear"),
        EffectsPreset("smooth", 0.0, 4, 0.4, 0.0, 0.2, 0.06, 0.03, "sine"),
        EffectsPreset("dynamic", 0.04, 2, 0.3, 6.0, 0.25, 0.05, 0.02, "cubic"),
        EffectsPreset("energetic", 0.07, 1, 0.22, 14.0, 0.3, 0.08, 0.03, "expo"),
    )
}

CAPTION_ANIMATIONS: dict[str, str] = {
    "wave": "words bob on a travelling sine wave",
    "typewriter": "letters appear one by one as each word is spoken",
    "bounce": "each word pops in with an overshoot as it is spoken",
    "fade": "each word fades in as it is spoken",
    "highlight": "the whole line shows; the spoken word is coloured and enlarged",
    "karaoke": "the whole line shows; a colour sweeps through each word as it is spoken",
}

# Default settings of each animation; a spec's `captions.settings` overrides any of these keys.
CAPTION_ANIMATION_DEFAULTS: dict[str, dict[str, float]] = {
    "wave": {"amplitude": 10.0, "frequency": 2.0, "delay": 0.1},
    "typewriter": {"lead": 0.0},
    "bounce": {"height": 24.0, "overshoot": 1.2, "duration": 0.25},
    "fade": {"fade_in": 0.15, "fade_out": 0.15},
    "highlight": {"scale": 1.15, "transition": 0.06},
    "karaoke": {"scale": 1.0},
}

CAPTION_POSITIONS: dict[str, str] = {
    "top": "in the upper part of the platform's safe zone",
    "center": "in the middle of the frame",
    "bottom": "in the lower part of the platform's safe zone",
}


@dataclass(frozen=True)
class CaptionColours:
    """ASS-independent colours as #RRGGBB strings."""

    primary: str = "#FFFFFF"
    highlight: str = "#FFD400"
    outline: str = "#000000"
    shadow: str = "#000000"
    emphasis: str = "#00D1FF"  # the words that carry the sentence (`captions.emphasis`)
    box: str = "#FF2D95"  # behind the spoken word, in looks with a box


# Which words of a caption get the emphasis colour; a spec may also list the words itself.
EMPHASIS_MODES: dict[str, str] = {
    "auto": "numbers, names and long content words in the emphasis colour",
    "none": "no word emphasised",
}


@dataclass(frozen=True)
class CaptionStyle:
    """Everything the caption builder needs to know about how captions look and move."""

    animation: CaptionAnimation = "highlight"
    words_per_caption: int = 3
    font: str = "Noto Sans"
    size_px: int = 96  # at 1080 px width; scaled with the output
    colours: CaptionColours = field(default_factory=CaptionColours)
    outline_px: float = 5.0
    shadow_px: float = 2.0
    position: CaptionPosition = "bottom"
    max_lines: int = 2
    settings: dict[str, float] = field(default_factory=dict)
    upper: bool = False  # upper-case every word
    box: bool = False  # a rounded box in `colours.box` behind the spoken word
    emphasis: EmphasisMode | tuple[str, ...] = "none"  # a mode, or the words to emphasise

    def animation_settings(self) -> dict[str, float]:
        """Defaults of this animation overridden by the style's own settings."""
        return {**CAPTION_ANIMATION_DEFAULTS[self.animation], **self.settings}


@dataclass(frozen=True)
class CaptionLookPreset:
    """A named caption look (`captions.style`): the defaults of the caption fields it sets,
    plus what only a look decides (case, box, outline weight, colours)."""

    name: str
    description: str
    animation: CaptionAnimation
    size_px: int
    position: CaptionPosition
    words_per_caption: int
    emphasis: EmphasisMode
    outline_px: float = 5.0
    shadow_px: float = 2.0
    upper: bool = False
    box: bool = False
    colours: dict[str, str] = field(default_factory=dict)  # over `CaptionColours` defaults
    settings: dict[str, float] = field(default_factory=dict)  # over the animation's defaults


CAPTION_LOOKS: dict[str, CaptionLookPreset] = {
    look.name: look
    for look in (
        CaptionLookPreset(
            "clean", "white words, the spoken one yellow and a little larger",
            "highlight", 96, "bottom", 3, "none",
        ),
        CaptionLookPreset(
            "bold", "upper case, heavy outline; the spoken word pops larger in an accent colour",
            "highlight", 104, "center", 2, "auto", outline_px=9.0, shadow_px=3.0, upper=True,
            colours={"highlight": "#3CFF00"}, settings={"scale": 1.3, "transition": 0.05},
        ),
        CaptionLookPreset(
            "boxed", "the spoken word on a rounded box behind it",
            "highlight", 92, "bottom", 3, "auto", outline_px=0.0, shadow_px=0.0, box=True,
            colours={"highlight": "#FFFFFF", "emphasis": "#FFE14D"},
            settings={"scale": 1.0, "transition": 0.04},
        ),
        CaptionLookPreset(
            "karaoke", "a colour sweep through each word as it is spoken",
            "karaoke", 96, "bottom", 4, "auto", colours={"highlight": "#00E5FF",
                                                         "emphasis": "#FFD400"},
        ),
        CaptionLookPreset(
            "minimal", "small words in the lower third, fading in and out",
            "fade", 60, "bottom", 5, "none", outline_px=2.0, shadow_px=0.0,
        ),
    )
}  # fmt: skip


@dataclass(frozen=True)
class BackgroundType:
    """One kind of background: drawn from `colors`, or decoded from `path`/`paths`."""

    name: str
    description: str
    needs_files: bool


BACKGROUND_TYPES: dict[str, BackgroundType] = {
    b.name: b
    for b in (
        BackgroundType("color", "one solid colour", needs_files=False),
        BackgroundType(
            "gradient", "a blend of the colours drifting across the frame", needs_files=False
        ),
        BackgroundType(
            "image", "still images with a slow Ken Burns move, cut on downbeats", needs_files=True
        ),
        BackgroundType(
            "video", "video clips in order, looped to fill, cut on downbeats", needs_files=True
        ),
    )
}


@dataclass(frozen=True)
class TransitionPreset:
    """How one background clip gives way to the next, on a downbeat of the music."""

    name: str
    xfade: str  # ffmpeg's xfade transition; "" for a hard cut
    description: str


BACKGROUND_TRANSITIONS: dict[str, TransitionPreset] = {
    t.name: t
    for t in (
        TransitionPreset("cut", "", "a hard cut on the downbeat"),
        TransitionPreset("fade", "fade", "a short cross-fade starting on the downbeat"),
        TransitionPreset("slide", "slideleft", "the next clip slides in from the right"),
        TransitionPreset("zoom", "zoomin", "the picture zooms into the next clip"),
    )
}

# What a project without background uploads may ask for.
DRAWN_BACKGROUNDS = {name: b for name, b in BACKGROUND_TYPES.items() if not b.needs_files}

ENCODERS: dict[str, str] = {
    "auto": "NVENC when GPU acceleration is allowed and a probe encode works, else libx264",
    "libx264": "x264 on the CPU",
    "nvenc": "NVIDIA's hardware encoder (fails if it does not work here)",
}

# How a reel's word timings were found (a spec may carry ones it knows).
TIMING_METHODS: dict[str, str] = {
    "synthesized": "reported by the speech synthesiser",
    "aligned": "found by forced alignment of the voice",
    "partly_estimated": "aligned where the recogniser was sure, spread evenly elsewhere",
    "estimated": "spread evenly over the speech",
}

CAPTION_COLOUR_DEFAULTS: dict[str, str] = {f.name: f.default for f in fields(CaptionColours)}


def names_of(table: Mapping[str, Any]) -> Any:
    """The Literal type of `table`'s keys, in table order (the one place options become types)."""
    return Literal[tuple(table)]


QualityName = names_of(QUALITY_PRESETS)
AspectName = names_of(ASPECT_PRESETS)
PlatformName = names_of(PLATFORM_PRESETS)
MusicChoice = names_of(MUSIC_CHOICES)
RenderMusicChoice = names_of(RENDER_MUSIC_CHOICES)
EffectsName = names_of(EFFECTS_PRESETS)
Easing = names_of(EASINGS)
CaptionAnimation = names_of(CAPTION_ANIMATIONS)
CaptionPosition = names_of(CAPTION_POSITIONS)
CaptionLookName = names_of(CAPTION_LOOKS)
EmphasisMode = names_of(EMPHASIS_MODES)
CaptionColourName = names_of(CAPTION_COLOUR_DEFAULTS)
BackgroundKind = names_of(BACKGROUND_TYPES)
BackgroundTransition = names_of(BACKGROUND_TRANSITIONS)
DrawnBackgroundKind = names_of(DRAWN_BACKGROUNDS)
EncoderName = names_of(ENCODERS)
TimingMethod = names_of(TIMING_METHODS)

# The spec field (dotted, as in error messages) each option table names.
OPTION_TABLES: dict[str, Mapping[str, Any]] = {
    "background.type": BACKGROUND_TYPES,
    "background.transition": BACKGROUND_TRANSITIONS,
    "music.preset": MUSIC_CHOICES,
    "captions.animation": CAPTION_ANIMATIONS,
    "captions.position": CAPTION_POSITIONS,
    "captions.style": CAPTION_LOOKS,
    "captions.emphasis": EMPHASIS_MODES,
    "effects.preset": EFFECTS_PRESETS,
    "effects.easing": EASINGS,
    "word_timings.method": TIMING_METHODS,
    "quality": QUALITY_PRESETS,
    "aspect": ASPECT_PRESETS,
    "platform": PLATFORM_PRESETS,
    "encoder": ENCODERS,
}


def describe(choice: object) -> str:
    """One line saying what an option table's entry is (a string entry is its own text)."""
    return choice if isinstance(choice, str) else choice.description  # type: ignore[attr-defined]
