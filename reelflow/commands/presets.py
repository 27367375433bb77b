"""`reelflow presets`: every preset with its numbers, as tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from reelflow import presets


def print_presets() -> None:
    """Print quality, platform, music, effects and caption presets."""
    out = Console()
    table = Table("quality", "size", "fps", "crf", "max video kbps")
    for q in presets.QUALITY_PRESETS.values():
        table.add_row(
            q.name, f"{q.width}x{q.height}", str(q.fps), str(q.crf), str(q.max_video_kbps)
        )
    out.print(table)
    table = Table("aspect", *presets.QUALITY_PRESETS, "what")
    for a in presets.ASPECT_PRESETS.values():
        sizes = ("{}x{}".format(*a.size(q)) for q in presets.QUALITY_PRESETS.values())
        table.add_row(a.name, *sizes, a.label)
    out.print(table)
    table = Table("platform", "max duration s", "max size MB", "loudness", "safe zone t/b/l/r")
    for p in presets.PLATFORM_PRESETS.values():
        zones = "\n".join(
            f"{aspect}: {z.top:.0%}/{z.bottom:.0%}/{z.left:.0%}/{z.right:.0%}"
            for aspect, z in p.safe_zones.items()
        )
        table.add_row(
            p.name, f"{p.max_duration_s:g}", f"{p.max_file_size_mb:g}",
            f"{p.loudness_lufs:g} LUFS, {p.true_peak_dbtp:g} dBTP", zones,
        )  # fmt: skip
    out.print(table)
    table = Table("music", "bpm", "mood")
    for m in presets.MUSIC_PRESETS.values():
        table.add_row(m.name, f"{m.bpm:g}", m.mood)
    for name, text in presets.MUSIC_MODES.items():
        table.add_row(name, "-", text)
    out.print(table)
    table = Table("effects", "zoom pulse", "every", "shake px", "zoom/10s", "pan/10s", "easing")
    for e in presets.EFFECTS_PRESETS.values():
        table.add_row(
            e.name, f"{e.zoom_pulse:.0%}", f"{e.pulse_every} beat(s)", f"{e.shake_px:g}",
            f"{e.zoom_speed:.0%}", f"{e.pan_speed:.0%}", e.easing,
        )  # fmt: skip
    out.print(table)
    table = Table("caption animation", "what it does", "settings")
    for name, text in presets.CAPTION_ANIMATIONS.items():
        settings = ", ".join(
            f"{k}={v:g}" for k, v in presets.CAPTION_ANIMATION_DEFAULTS[name].items()
        )
        table.add_row(name, text, settings)
    out.print(table)
