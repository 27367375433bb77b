"""Camera motion plans: which beats pulse, how much room shaking needs, easing curves."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from reelflow.engine.errors import InputError
from reelflow.engine.render.effects import STATIC, ease, plan_camera
from reelflow.presets import EFFECTS_PRESETS


def test_preset_none_is_static():
    assert plan_camera(EFFECTS_PRESETS["none"], duration_s=10, beat_times_s=[1, 2]) is STATIC


def test_pulses_follow_every_nth_beat_inside_the_reel():
    beats = [0.5 * i for i in range(30)]  # 0 .. 14.5 s
    dynamic = plan_camera(EFFECTS_PRESETS["dynamic"], duration_s=10, beat_times_s=beats)
    energetic = plan_camera(EFFECTS_PRESETS["energetic"], duration_s=10, beat_times_s=beats)
    assert energetic.pulses == 20  # every beat before 10 s
    assert dynamic.pulses == 10  # every second beat


def test_shake_gets_enough_zoom_never_to_show_an_edge():
    preset = replace(EFFECTS_PRESETS["energetic"], pan_speed=0.0, shake_px=27.0)
    motion = plan_camera(preset, duration_s=5, peak_times_s=[1.0, 2.0])
    margin_each_side = (1 - 1 / motion.base_zoom) / 2
    assert margin_each_side >= 27.0 / 1080 - 1e-9
    assert motion.shakes == 2


def test_negative_times_and_times_after_the_end_are_ignored():
    motion = plan_camera(
        EFFECTS_PRESETS["energetic"], duration_s=3, beat_times_s=[-1, 1, 5], peak_times_s=[-0.2, 9]
    )
    assert (motion.pulses, motion.shakes) == (1, 0)


@pytest.mark.parametrize("easing", ["linear", "sine", "quad", "cubic", "expo"])
def test_easing_curves_run_from_zero_to_one(easing):
    # Evaluate the ffmpeg expression with Python after mapping its functions.
    def evaluate(u: float) -> float:
        expr = ease(easing, str(u))
        registers: dict[int, float] = {}

        def st(i, v):
            registers[int(i)] = v
            return v

        env = {
            "st": st,
            "ld": lambda i: registers[int(i)],
            "clip": lambda v, lo, hi: min(max(v, lo), hi),
            "lt": lambda a, b: float(a < b),
            "if": None,
        }
        import math

        env |= {"cos": math.cos, "pow": pow, "PI": math.pi}
        code = expr.replace(";", ",").replace("if(", "_if(")
        env["_if"] = lambda c, a, b: a if c else b
        return eval(f"({code})[-1]", env)

    values = [evaluate(u / 10) for u in range(11)]
    assert values[0] == pytest.approx(0, abs=1e-3) and values[-1] == pytest.approx(1, abs=1e-3)
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(values))


def test_unknown_easing_and_bad_duration_are_input_errors():
    with pytest.raises(InputError):
        ease("bouncy", "it")
    with pytest.raises(InputError):
        plan_camera(EFFECTS_PRESETS["dynamic"], duration_s=0)
