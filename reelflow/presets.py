"""Quality, platform, music, effects and caption presets, as data.

Plain frozen dataclasses so the engine can take them as arguments without importing anything
heavier; the API lists them from here and the spec models validate names against these tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Easing = Literal["linear", "sine", "quad", "cubic", "expo"]


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
    safe_zone: SafeZone


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
            safe_zone=SafeZone(top=0.12, bottom=0.22, left=0.06, right=0.12),
        ),
        PlatformPreset(
            name="tiktok",
            label="TikTok",
            max_duration_s=600,
            max_file_size_mb=287,
            loudness_lufs=-14,
            true_peak_dbtp=-1,
            safe_zone=SafeZone(top=0.1, bottom=0.22, left=0.06, right=0.15),
        ),
        PlatformPreset(
            name="youtube_shorts",
            label="YouTube Shorts",
            max_duration_s=180,
            max_file_size_mb=2_000,
            loudness_lufs=-14,
            true_peak_dbtp=-1,
            safe_zone=SafeZone(top=0.1, bottom=0.2, left=0.06, right=0.14),
        ),
        PlatformPreset(
            name="generic",
            label="Generic 9:16",
            max_duration_s=3_600,
            max_file_size_mb=4_000,
            loudness_lufs=-14,
            true_peak_dbtp=-1,
            safe_zone=SafeZone(top=0.05, bottom=0.08, left=0.05, right=0.05),
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


MUSIC_PRESETS: dict[str, MusicPreset] = {
    m.name: m
    for m in (
        MusicPreset("upbeat", 128, "happy, energetic pop", 0.75, 60, False),
        MusicPreset("chill", 90, "relaxed lo-fi", 0.3, 57, True, swing=0.12),
        MusicPreset("dramatic", 100, "tense, cinematic", 0.55, 50, True),
        MusicPreset("gaming", 140, "intense electronic", 0.9, 55, True),
    )
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


EFFECTS_PRESETS: dict[str, EffectsPreset] = {
    e.name: e
    for e in (
        EffectsPreset("none", 0.0, 1, 0.25, 0.0, 0.2, 0.0, 0.0, "linear"),
        EffectsPreset("smooth", 0.0, 4, 0.4, 0.0, 0.2, 0.06, 0.03, "sine"),
        EffectsPreset("dynamic", 0.04, 2, 0.3, 6.0, 0.25, 0.05, 0.02, "cubic"),
        EffectsPreset("energetic", 0.07, 1, 0.22, 14.0, 0.3, 0.08, 0.03, "expo"),
    )
}

CaptionAnimation = Literal["wave", "typewriter", "bounce", "fade", "highlight"]
CAPTION_ANIMATIONS: dict[str, str] = {
    "wave": "words bob on a travelling sine wave",
    "typewriter": "letters appear one by one as each word is spoken",
    "bounce": "each word pops in with an overshoot as it is spoken",
    "fade": "each word fades in as it is spoken",
    "highlight": "the whole line shows; the spoken word is coloured and enlarged",
}

# Default settings of each animation; a spec's `captions.settings` overrides any of these keys.
CAPTION_ANIMATION_DEFAULTS: dict[str, dict[str, float]] = {
    "wave": {"amplitude": 10.0, "frequency": 2.0, "delay": 0.1},
    "typewriter": {"lead": 0.0},
    "bounce": {"height": 24.0, "overshoot": 1.2, "duration": 0.25},
    "fade": {"fade_in": 0.15, "fade_out": 0.15},
    "highlight": {"scale": 1.15, "transition": 0.06},
}


@dataclass(frozen=True)
class CaptionColours:
    """ASS-independent colours as #RRGGBB strings."""

    primary: str = "#FFFFFF"
    highlight: str = "#FFD400"
    outline: str = "#000000"
    shadow: str = "#000000"


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
    position: Literal["top", "center", "bottom"] = "bottom"
    max_lines: int = 2
    settings: dict[str, float] = field(default_factory=dict)

    def animation_settings(self) -> dict[str, float]:
        """Defaults of this animation overridden by the style's own settings."""
        return {**CAPTION_ANIMATION_DEFAULTS[self.animation], **self.settings}
