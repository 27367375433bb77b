"""Arrangements of the synthesised music presets, as data.

A `Style` says what each instrument plays in one 4/4 bar of sixteen steps (step 0 is the bar's
downbeat), which chords the bars walk through and how the kit sounds. `MusicPreset` supplies
tempo, key, mode and swing; the style supplies genre. Presets without a style of their own get the
style nearest to their energy.
"""

from __future__ import annotations

from dataclasses import dataclass

from reelflow.presets import MusicPreset

Chord = tuple[int, tuple[int, ...]]  # (root in semitones above the key, intervals above the root)

MAJ, MIN = (0, 4, 7), (0, 3, 7)
MAJ7, MIN7, DOM7 = (0, 4, 7, 11), (0, 3, 7, 10), (0, 4, 7, 10)
EVERY_8TH = (0, 2, 4, 6, 8, 10, 12, 14)
OFF_8THS = (2, 6, 10, 14)
EVERY_16TH = tuple(range(16))


@dataclass(frozen=True)
class Kit:
    """Drum sounds. kick: start Hz, end Hz, pitch decay s, decay s, click, drive (the arguments
    of `music_instruments.kick`); snare: tone Hz, decay s, top of the noise band Hz.
    """

    kick: tuple[float, float, float, float, float, float]
    snare: tuple[float, float, float]
    clap: bool
    hat_decay_s: float
    hat_highpass_hz: float
    boom: bool  # a cinematic low hit on every downbeat


@dataclass(frozen=True)
class Levels:
    """Linear mix levels per instrument before the master is normalised."""

    kick: float
    snare: float
    hat: float
    crash: float
    bass: float
    chords: float
    pad: float
    arp: float
    boom: float = 0.0


@dataclass(frozen=True)
class Style:
    """What the band plays in one bar, and how it sounds."""

    name: str
    major: tuple[Chord, ...]
    minor: tuple[Chord, ...]
    kit: Kit
    levels: Levels
    kick_steps: tuple[int, ...]
    snare_steps: tuple[int, ...]
    hat_steps: tuple[int, ...]
    open_hat_steps: tuple[int, ...]
    crash_every_bars: int  # 0: never
    fill_every_bars: int  # snare sixteenths on the last beat of every Nth bar; 0: never
    bass_notes: tuple[tuple[int, int, int], ...]  # (step, length in steps, semitones above root)
    bass_grit: float
    chord_sound: str  # "pluck", "epiano", "strings" or "supersaw"
    chord_notes: tuple[tuple[int, int], ...]  # (step, length in steps)
    arp_sound: str  # "pluck" (an octave up) or "strings" (staccato, in the chord's register)
    arp_steps: tuple[int, ...]
    arp_halves: tuple[int, ...]  # halves of each 8-bar phrase with the arpeggio: (0, 1) = always
    reverb_s: float
    reverb_send: float
    lofi: bool = False  # darker master and a little vinyl crackle


STYLES: dict[str, Style] = {
    "pop": Style(
        name="pop",
        major=((0, MAJ), (7, MAJ), (9, MIN), (5, MAJ)),
        minor=((0, MIN), (10, MAJ), (8, MAJ), (7, MAJ)),
        kit=Kit((165, 50, 0.03, 0.22, 0.5, 0.3), (190, 0.12, 8_000), True, 0.03, 7_000, False),
        levels=Levels(1.0, 0.45, 0.12, 0.12, 0.42, 0.28, 0.12, 0.07),
        kick_steps=(0, 4, 8, 12),
        snare_steps=(4, 12),
        hat_steps=EVERY_8TH,
        open_hat_steps=(14,),
        crash_every_bars=4,
        fill_every_bars=8,
        bass_notes=tuple((s, 2, 12 if s % 4 else 0) for s in EVERY_8TH),
        bass_grit=0.5,
        chord_sound="pluck",
        chord_notes=((0, 3), (3, 3), (6, 4), (10, 2), (12, 4)),
        arp_sound="pluck",
        arp_steps=EVERY_8TH,
        arp_halves=(1,),
        reverb_s=1.2,
        reverb_send=0.18,
    ),
    "lofi": Style(
        name="lofi",
        major=((0, MAJ7), (9, MIN7), (2, MIN7), (7, DOM7)),
        minor=((0, MIN7), (5, MIN7), (10, DOM7), (3, MAJ7)),
        kit=Kit((120, 48, 0.025, 0.28, 0.15, 0.0), (200, 0.09, 3_500), False, 0.025, 6_000, False),
        levels=Levels(0.9, 0.38, 0.09, 0.0, 0.4, 0.38, 0.0, 0.0),
        kick_steps=(0, 7, 10),
        snare_steps=(4, 12),
        hat_steps=EVERY_8TH,
        open_hat_steps=(),
        crash_every_bars=0,
        fill_every_bars=0,
        bass_notes=((0, 6, 0), (7, 3, 0), (10, 5, 7)),
        bass_grit=0.15,
        chord_sound="epiano",
        chord_notes=((0, 6), (6, 10)),
        arp_sound="pluck",
        arp_steps=(),
        arp_halves=(),
        reverb_s=1.6,
        reverb_send=0.22,
        lofi=True,
    ),
    "cinematic": Style(
        name="cinematic",
        major=((0, MAJ), (9, MIN), (5, MAJ), (7, MAJ)),
        minor=((0, MIN), (8, MAJ), (5, MIN), (7, MAJ)),
        kit=Kit((110, 42, 0.04, 0.4, 0.2, 0.0), (170, 0.3, 6_000), False, 0.02, 8_000, True),
        levels=Levels(0.85, 0.5, 0.05, 0.14, 0.4, 0.32, 0.0, 0.18, boom=0.8),
        kick_steps=(0, 8, 10),
        snare_steps=(4, 12),
        hat_steps=EVERY_16TH,
        open_hat_steps=(),
        crash_every_bars=4,
        fill_every_bars=4,
        bass_notes=((0, 16, 0),),
        bass_grit=0.3,
        chord_sound="strings",
        chord_notes=((0, 16),),
        arp_sound="strings",
        arp_steps=EVERY_8TH,
        arp_halves=(0, 1),
        reverb_s=2.4,
        reverb_send=0.3,
    ),
    "electronic": Style(
        name="electronic",
        major=((0, MAJ), (9, MIN), (5, MAJ), (7, MAJ)),
        minor=((0, MIN), (8, MAJ), (3, MAJ), (10, MAJ)),
        kit=Kit((200, 52, 0.025, 0.18, 0.7, 1.5), (210, 0.1, 9_000), True, 0.025, 8_000, False),
        levels=Levels(1.0, 0.42, 0.1, 0.12, 0.38, 0.22, 0.1, 0.1),
        kick_steps=(0, 4, 8, 12),
        snare_steps=(4, 12),
        hat_steps=EVERY_16TH,
        open_hat_steps=OFF_8THS,
        crash_every_bars=4,
        fill_every_bars=4,
        bass_notes=tuple((s, 1, 12 if s % 4 == 3 else 0) for s in EVERY_16TH if s % 4),
        bass_grit=0.9,
        chord_sound="supersaw",
        chord_notes=tuple((s, 2) for s in OFF_8THS),
        arp_sound="pluck",
        arp_steps=EVERY_16TH,
        arp_halves=(0, 1),
        reverb_s=0.9,
        reverb_send=0.12,
    ),
}

_PRESET_STYLES = {"upbeat": "pop", "chill": "lofi", "dramatic": "cinematic", "gaming": "electronic"}


def style_for(preset: MusicPreset) -> Style:
    """The arrangement of a preset: its own, or the one whose genre fits its energy."""
    if preset.name in _PRESET_STYLES:
        return STYLES[_PRESET_STYLES[preset.name]]
    for threshold, name in ((0.85, "electronic"), (0.6, "pop"), (0.45, "cinematic")):
        if preset.energy >= threshold:
            return STYLES[name]
    return STYLES["lofi"]
