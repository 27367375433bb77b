"""Camera motion as ffmpeg expressions: zoom pulses on beats, shake on energy peaks, slow pan/zoom.

The render applies the motion with ``zoompan`` (``d=1``) on the background's own pixels, which
measured cheapest here: no upscale before zooming and no per-frame filter re-initialisation.
Expressions are functions of ``it`` (the input frame's time in seconds). Offsets are fractions of
the input size, so the same motion fits every quality preset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reelflow.engine.errors import InputError
from reelflow.presets import Easing, EffectsPreset

# Easing curves in ffmpeg's expression language, of the value stored in register 0.
_EASE_IN_OUT: dict[str, str] = {
    "linear": "ld(0)",
    "sine": "0.5-0.5*cos(PI*ld(0))",
    "quad": "if(lt(ld(0),0.5),2*ld(0)*ld(0),1-pow(2-2*ld(0),2)/2)",
    "cubic": "if(lt(ld(0),0.5),4*pow(ld(0),3),1-pow(2-2*ld(0),3)/2)",
    "expo": "if(lt(ld(0),0.5),pow(2,20*ld(0)-10)/2,(2-pow(2,10-20*ld(0)))/2)",
}

PULSE_ATTACK_S = 0.04  # the zoom rises this long before the beat so the peak lands on it
SHAKE_X_HZ = 9.0
SHAKE_Y_HZ = 7.0
MAX_SLOW_ZOOM = 0.25
MAX_PAN = 0.08


@dataclass(frozen=True)
class CameraMotion:
    """Per-frame zoom (>= 1) and crop-centre offsets (fractions of the input size)."""

    zoom: str
    dx: str
    dy: str
    base_zoom: float
    pulses: int
    shakes: int

    @property
    def is_static(self) -> bool:
        return self.zoom == "1" and self.dx == "0" and self.dy == "0"


STATIC = CameraMotion(zoom="1", dx="0", dy="0", base_zoom=1.0, pulses=0, shakes=0)


def ease(easing: Easing, u: str) -> str:
    """Expression easing `u` (clipped to [0, 1]) with the named in-out curve."""
    if easing not in _EASE_IN_OUT:
        raise InputError(f"unknown easing {easing!r}", field="effects.easing")
    return f"(st(0,clip({u},0,1));{_EASE_IN_OUT[easing]})"


def plan_camera(
    preset: EffectsPreset,
    *,
    duration_s: float,
    beat_times_s: Sequence[float] = (),
    peak_times_s: Sequence[float] = (),
    reference_width: int = 1080,
) -> CameraMotion:
    """Camera motion for a reel of `duration_s` from the music's beats and energy peaks.

    Every `preset.pulse_every`-th beat gets a zoom pulse of `preset.zoom_pulse` that rises over
    `PULSE_ATTACK_S` and eases back over `pulse_decay_s`; each energy peak starts a damped shake
    of `shake_px` (at `reference_width`); the whole reel zooms and pans slowly with the preset's
    easing. Beat and peak times are in reel time (already shifted by the music's start).
    """
    if duration_s <= 0:
        raise InputError(f"duration must be positive, got {duration_s}", field="duration")
    slow_zoom = min(MAX_SLOW_ZOOM, preset.zoom_speed * duration_s / 10.0)
    pan = min(MAX_PAN, preset.pan_speed * duration_s / 10.0)
    shake = preset.shake_px / reference_width
    beats = [b for b in sorted(beat_times_s) if 0.0 <= b < duration_s][:: preset.pulse_every]
    peaks = [p for p in sorted(peak_times_s) if 0.0 <= p < duration_s]
    if preset.zoom_pulse <= 0:
        beats = []
    if shake <= 0:
        peaks = []
    if slow_zoom <= 0 and pan <= 0 and not beats and not peaks:
        return STATIC

    # Enough zoom that panning and shaking never show the frame's edge (zoompan would clamp).
    travel = pan / 2 + (shake if peaks else 0.0)
    base_zoom = 1.0 / (1.0 - 2.0 * travel) if travel > 0 else 1.0
    progress = ease(preset.easing, f"it/{duration_s:.3f}")
    zoom_terms = [f"{base_zoom:.5f}*(1+{slow_zoom:.4f}*{progress})"]
    if beats:
        pulses = "+".join(
            _pulse(b, preset.zoom_pulse, preset.pulse_decay_s, preset.easing) for b in beats
        )
        zoom_terms.append(f"(1+{pulses})")
    dx_terms = [f"{pan:.4f}*({progress}-0.5)"] if pan > 0 else []
    dy_terms: list[str] = []
    for p in peaks:
        dx_terms.append(_shake(p, shake, preset.shake_decay_s, SHAKE_X_HZ, 0.0))
        dy_terms.append(_shake(p, shake * 0.7, preset.shake_decay_s, SHAKE_Y_HZ, 1.3))
    return CameraMotion(
        zoom="*".join(zoom_terms),
        dx="+".join(dx_terms) or "0",
        dy="+".join(dy_terms) or "0",
        base_zoom=base_zoom,
        pulses=len(beats),
        shakes=len(peaks),
    )


def _pulse(beat_s: float, strength: float, decay_s: float, easing: Easing) -> str:
    start = beat_s - PULSE_ATTACK_S
    rise = f"(it-{start:.3f})/{PULSE_ATTACK_S}"
    fall = f"1-{ease(easing, f'(it-{beat_s:.3f})/{decay_s:.3f}')}"
    return (
        f"if(between(it,{start:.3f},{beat_s + decay_s:.3f}),"
        f"{strength:.4f}*if(lt(it,{beat_s:.3f}),{rise},{fall}),0)"
    )


def _shake(peak_s: float, amplitude: float, decay_s: float, hz: float, phase: float) -> str:
    # Exponentially damped sine: a jolt that settles within `decay_s`.
    return (
        f"if(between(it,{peak_s:.3f},{peak_s + decay_s:.3f}),"
        f"{amplitude:.5f}*exp(-4*(it-{peak_s:.3f})/{decay_s:.3f})"
        f"*sin(2*PI*{hz}*(it-{peak_s:.3f})+{phase}),0)"
    )


def zoompan_args(motion: CameraMotion, *, width: int, height: int, fps: int) -> dict[str, str]:
    """Keyword arguments of ffmpeg's ``zoompan`` filter that apply `motion` at the output size."""
    return {
        "z": motion.zoom,
        "x": f"iw/2-iw/zoom/2+({motion.dx})*iw",
        "y": f"ih/2-ih/zoom/2+({motion.dy})*ih",
        "d": "1",
        "s": f"{width}x{height}",
        "fps": str(fps),
    }
