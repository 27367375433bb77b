"""Backing tracks synthesised from a `MusicPreset`: drums, bass, chords, pad and arpeggio.

Bar by bar, each instrument of the preset's `Style` is placed at its sixteenth-note steps (with the
preset's swing on the off-beat eighths), into a stereo dry bus and a reverb send. Velocities are
varied from seeds derived from the bar index, so a track is deterministic and each bar sounds the
same whatever the length of the render.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from reelflow.engine.errors import InputError
from reelflow.engine.music import instruments as inst
from reelflow.engine.music.styles import Chord, Kit, Style, style_for
from reelflow.presets import MusicPreset

SYNTH_VERSION = 1  # bump when the sound changes, so cached tracks are rendered again
PEAK_DBFS = -3.0
STEPS_PER_BAR = 16
MAX_DURATION_S = 3_600.0
_TAIL_S = 4.0  # room for ringing notes past the end, cut before returning
_SEED = 20_240_611


def bar_duration_s(preset: MusicPreset) -> float:
    """Length of one 4/4 bar of `preset` in seconds."""
    return 4 * 60.0 / preset.bpm


def synthesize_preset(
    preset: MusicPreset, duration_s: float, *, sample_rate: int = 48_000
) -> np.ndarray:
    """Render `duration_s` of `preset` as ``(n, 2)`` float32 stereo peaking at -3 dBFS.

    Bar downbeats fall at whole multiples of `bar_duration_s(preset)` from the start, each with a
    louder kick, a chord change and a bass note (plus a crash every few bars in most styles).
    """
    _validate(preset, duration_s, sample_rate)
    style = style_for(preset)
    n = round(duration_s * sample_rate)
    band = _Band(preset, style, sample_rate, n + round(_TAIL_S * sample_rate))
    for bar in range(math.ceil(duration_s / bar_duration_s(preset))):
        band.play_bar(bar)
    return _master(band, style, n)


def _validate(preset: MusicPreset, duration_s: float, sample_rate: int) -> None:
    if not math.isfinite(duration_s) or duration_s <= 0 or duration_s > MAX_DURATION_S:
        raise InputError(
            f"duration must be between 0 and {MAX_DURATION_S:.0f} s, got {duration_s}",
            field="duration_s",
        )
    if int(sample_rate) != sample_rate or not 8_000 <= sample_rate <= 192_000:
        raise InputError(
            f"sample rate must be 8000..192000 Hz, got {sample_rate}", field="sample_rate"
        )
    if not 30 <= preset.bpm <= 300:
        raise InputError(f"tempo must be 30..300 BPM, got {preset.bpm}", field="music.preset")
    if not 0 <= preset.swing < 0.4:
        raise InputError(
            f"swing must be 0..0.4 of a beat, got {preset.swing}", field="music.preset"
        )
    if not 24 <= preset.key_root_midi <= 96:
        raise InputError(
            f"key must be MIDI note 24..96, got {preset.key_root_midi}", field="music.preset"
        )


class _Band:
    """Plays the bars of one style into a dry stereo bus and a mono reverb send."""

    def __init__(self, preset: MusicPreset, style: Style, sample_rate: int, n: int) -> None:
        self.preset, self.style, self.sr = preset, style, sample_rate
        self.step_s = bar_duration_s(preset) / STEPS_PER_BAR
        self.dry = np.zeros((n, 2), dtype=np.float32)
        self.send = np.zeros(n, dtype=np.float32)
        self._sounds: dict[tuple, np.ndarray] = {}

    # -- placing sounds ------------------------------------------------------------------------
    def sound(self, key: tuple, make: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._sounds:
            self._sounds[key] = make()
        return self._sounds[key]

    def add(
        self, at_s: float, sound: np.ndarray, gain: float, *, pan: float = 0.0, send: float = 0.0
    ) -> None:
        """Mix `sound` in at `at_s`: panned -1 (left) .. 1 (right), `send` to the reverb."""
        start = round(at_s * self.sr)
        end = min(start + sound.shape[0], self.dry.shape[0])
        if end <= start:
            return
        part = sound[: end - start] * gain
        angle = (pan + 1) * math.pi / 4  # constant-power pan, unity in the centre
        self.dry[start:end, 0] += part * math.cos(angle) * math.sqrt(2)
        self.dry[start:end, 1] += part * math.sin(angle) * math.sqrt(2)
        if send:
            self.send[start:end] += part * send

    def step_time_s(self, bar: int, step: float) -> float:
        """Onset of a sixteenth step; swing delays the off-beat eighths by `swing` of a beat."""
        beat, frac = divmod(step / 4, 1.0)
        half = 0.5 + self.preset.swing
        swung = frac / 0.5 * half if frac < 0.5 else half + (frac - 0.5) / 0.5 * (1 - half)
        return (bar * STEPS_PER_BAR + (beat + swung) * 4) * self.step_s

    # -- one bar ---------------------------------------------------------------------------------
    def play_bar(self, bar: int) -> None:
        rng = np.random.default_rng((_SEED, bar))
        progression = self.style.minor if self.preset.minor else self.style.major
        chord = self._voicing(progression[bar % len(progression)])
        self._drums(bar, rng)
        self._bass(bar, chord[0])
        self._chords(bar, chord)
        self._arp(bar, chord)

    def _voicing(self, chord: Chord) -> list[int]:
        root, intervals = chord
        base = self.preset.key_root_midi + (root if root <= 6 else root - 12)
        return [base + i for i in intervals]

    def _drums(self, bar: int, rng: np.random.Generator) -> None:
        s, kit, lv, sr = self.style, self.style.kit, self.style.levels, self.sr
        kick = self.sound(("kick",), lambda: inst.kick(sr, *kit.kick))
        for step in s.kick_steps:
            accent = 1.0 if step == 0 else 0.7  # the bar's "one" is the loudest kick
            self.add(self.step_time_s(bar, step), kick, lv.kick * accent * _humanise(rng))
        snare = self.sound(("snare",), lambda: _snare(sr, kit.snare))
        clap = self.sound(("clap",), lambda: inst.clap(sr, seed=7))
        fill = s.fill_every_bars and bar % s.fill_every_bars == s.fill_every_bars - 1
        for step in (*s.snare_steps, *((13, 14, 15) if fill else ())):
            gain = lv.snare * (0.45 + 0.15 * (step - 12) if step > 12 else 1.0) * _humanise(rng)
            self.add(self.step_time_s(bar, step), snare, gain, send=0.5)
            if kit.clap and step in s.snare_steps:
                self.add(self.step_time_s(bar, step), clap, gain * 0.7, send=0.4)
        for i, step in enumerate(s.hat_steps):
            variant = i % 4  # four noise seeds in turn, so the hats never sound machine-gunned
            hat = self.sound(("hat", variant), lambda v=variant: _hat(sr, kit, seed=20 + v))
            accent = 1.0 if step % 4 == 2 else (0.75 if step % 2 == 0 else 0.5)
            self.add(self.step_time_s(bar, step), hat, lv.hat * accent * _humanise(rng), pan=0.25)
        open_hat = self.sound(("open_hat",), lambda: _hat(sr, kit, seed=30, open_=True))
        for step in s.open_hat_steps:
            self.add(self.step_time_s(bar, step), open_hat, lv.hat * 0.8, pan=-0.2)
        if s.crash_every_bars and bar % s.crash_every_bars == 0:
            crash = self.sound(("crash",), lambda: inst.crash(sr, decay_s=1.1, seed=40))
            self.add(self.step_time_s(bar, 0), crash, lv.crash, send=0.3)
        if kit.boom:
            hz = inst.midi_hz(self.preset.key_root_midi - 24)
            boom = self.sound(("boom",), lambda: inst.boom(sr, freq_hz=hz, decay_s=0.6, seed=50))
            self.add(self.step_time_s(bar, 0), boom, lv.boom, send=0.6)

    def _bass(self, bar: int, chord_root: int) -> None:
        s, sr = self.style, self.sr
        low = 36 + (chord_root - 36) % 12  # C2..B2: low enough to carry, high enough for phones
        for step, length, interval in s.bass_notes:
            note = low + interval
            dur = length * self.step_s * 0.92
            sound = self.sound(
                ("bass", note, length),
                lambda note=note, dur=dur: inst.bass(
                    inst.midi_hz(note), dur, sr, grit=s.bass_grit, cutoff_hz=900
                ),
            )
            self.add(self.step_time_s(bar, step), sound, s.levels.bass * (1.25 if step == 0 else 1))

    def _chords(self, bar: int, chord: list[int]) -> None:
        s, sr = self.style, self.sr
        for step, length in s.chord_notes:
            dur = length * self.step_s
            for i, note in enumerate(chord):
                sound = self.sound(
                    (s.chord_sound, note, length),
                    lambda note=note, dur=dur: _chord_sound(s.chord_sound, note, dur, sr),
                )
                pan = 0.3 if i % 2 else -0.3
                gain = s.levels.chords / len(chord) * (2.3 if step == 0 else 1.8)
                self.add(self.step_time_s(bar, step), sound, gain, pan=pan, send=1.0)
        if s.levels.pad:
            bar_s = STEPS_PER_BAR * self.step_s
            for i, note in enumerate(chord):
                pad = self.sound(("pad", note), lambda note=note: _pad(note, bar_s, sr))
                gain, pan = s.levels.pad / len(chord), 0.5 if i % 2 else -0.5
                self.add(self.step_time_s(bar, 0), pad, gain, pan=pan, send=1.0)

    def _arp(self, bar: int, chord: list[int]) -> None:
        s, sr = self.style, self.sr
        if (bar // 4) % 2 not in s.arp_halves:
            return  # the arpeggio sits out half the phrase, so the track breathes
        tones = [*sorted(chord), min(chord) + 12]
        if s.arp_sound == "strings":
            tones = [tones[0], tones[2], tones[-1], tones[2]]  # ostinato: root, fifth, octave
        for i, step in enumerate(s.arp_steps):
            note = tones[i % len(tones)] + (12 if s.arp_sound == "pluck" else 0)
            sound = self.sound(("arp", note), lambda n=note: _arp_sound(s, n, self.step_s, sr))
            pan = 0.4 if i % 2 else -0.4
            self.add(self.step_time_s(bar, step), sound, s.levels.arp, pan=pan, send=0.8)


def _humanise(rng: np.random.Generator) -> float:
    return float(1.0 + 0.07 * rng.uniform(-1.0, 1.0))


def _snare(sr: int, params: tuple[float, float, float]) -> np.ndarray:
    tone_hz, decay_s, brightness_hz = params
    return inst.snare(sr, tone_hz=tone_hz, decay_s=decay_s, brightness_hz=brightness_hz, seed=3)


def _hat(sr: int, kit: Kit, *, seed: int, open_: bool = False) -> np.ndarray:
    decay_s = kit.hat_decay_s * (5 if open_ else 1)
    return inst.hat(sr, decay_s=decay_s, highpass_hz=kit.hat_highpass_hz, seed=seed)


def _chord_sound(kind: str, note: int, dur: float, sr: int) -> np.ndarray:
    hz = inst.midi_hz(note)
    if kind == "epiano":
        return inst.epiano(hz, dur, sr)
    if kind == "strings":
        return inst.saw_voice(
            hz, dur, sr, attack_s=0.35, release_s=0.6, detune_cents=10, cutoff_hz=2_200
        )
    if kind == "supersaw":
        return inst.saw_voice(
            hz, dur * 0.8, sr, attack_s=0.004, release_s=0.08, detune_cents=22, cutoff_hz=5_000
        )
    return inst.pluck(hz, max(dur, 0.3), sr, brightness=0.5, decay_s=0.35)


def _pad(note: int, dur: float, sr: int) -> np.ndarray:
    hz = inst.midi_hz(note)
    return inst.saw_voice(
        hz, dur, sr, attack_s=0.4, release_s=0.5, detune_cents=15, cutoff_hz=1_400
    )


def _arp_sound(style: Style, note: int, step_s: float, sr: int) -> np.ndarray:
    hz = inst.midi_hz(note)
    if style.arp_sound == "strings":
        return inst.saw_voice(
            hz, step_s * 1.6, sr, attack_s=0.01, release_s=0.08, detune_cents=8, cutoff_hz=3_000
        )
    return inst.pluck(hz, 0.4, sr, brightness=0.65, decay_s=0.18)


def _master(band: _Band, style: Style, n: int) -> np.ndarray:
    """Reverb, filters, gentle saturation and the -3 dBFS peak, one channel at a time."""
    sr = band.sr
    ir = inst.reverb_ir(sr, decay_s=style.reverb_s, seed=60).astype(np.float32)
    sos = inst.butter_sos(sr, "highpass", 35)  # nothing below the kick's fundamental
    if style.lofi:
        sos = np.vstack([sos, inst.butter_sos(sr, "lowpass", 6_500)])
    dust = _crackle(n, sr) * np.float32(0.02) if style.lofi else 0.0
    out = np.empty((n, 2), dtype=np.float32)
    for c in (0, 1):
        channel = inst.convolved(band.send, ir[:, c])
        channel *= style.reverb_send
        channel += band.dry[:, c]
        out[:, c] = inst.filtered_blocks(sos, channel[:n])
        out[:, c] += dust
    peak = max(float(out.max()), -float(out.min()))
    if peak > 0:
        out *= 1.3 / peak
        np.tanh(out, out=out)  # gentle saturation glues the mix and tames the kick's peaks
        out *= 10 ** (PEAK_DBFS / 20) / max(float(out.max()), -float(out.min()))
    return out


def _crackle(n: int, sr: int) -> np.ndarray:
    """Sparse, high-passed vinyl dust clicks: eight a second, seeded per second."""
    clicks = np.zeros(n, dtype=np.float32)
    for second in range(math.ceil(n / sr)):
        rng = np.random.default_rng((_SEED, 99, second))
        at = second * sr + rng.integers(0, sr, 8)
        keep = at < n
        clicks[at[keep]] = rng.uniform(-1.0, 1.0, 8)[keep] ** 3
    return inst.filtered_blocks(inst.butter_sos(sr, "highpass", 2_000), clicks)
