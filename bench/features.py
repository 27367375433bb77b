"""Render speed of issue 13's options: each against the plain reel, in one pass.

    .venv/bin/python bench/features.py [--seconds 30] [--repeat 2]

The reel of bench/render.py (uploaded voice, 1920x1080 video background, upbeat music ducked,
dynamic effects, high) rendered by `reelflow render --no-cache` without a server, once plain and
once with each option. Rounds alternate, so a slow minute hits every variant. Prints each
variant's wall time over the plain reel's, and the plain reel over the hand-built one-command
reel of bench/render.py: an option that added an encode or a pass would show as ~2x, and
`plain/hand x variant/plain` is that option's ratio against the hand-built command (issue "One
DAG": <= 1.30x without a server). Two aspects at once render two videos by design.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bench.common import timed  # noqa: E402
from bench.render import hand_built, make_inputs, reel_spec  # noqa: E402
from reelflow.models import parse_spec  # noqa: E402

VARIANTS: dict[str, dict] = {
    "look bold": {"captions": {"style": "bold"}},
    "look boxed": {"captions": {"style": "boxed"}},
    "look karaoke": {"captions": {"style": "karaoke"}},
    "look minimal": {"captions": {"style": "minimal"}},
    "emphasis auto": {"captions": {"animation": "highlight", "emphasis": "auto"}},
    "title + progress bar": {"title": {"text": "Nobody tells you this"}, "progress_bar": True},
    "aspect 4:5": {"aspect": "4:5"},
    "aspect 1:1": {"aspect": "1:1"},
    "aspect 16:9 (generic)": {"aspect": "16:9", "platform": "generic"},
    "aspects 9:16 + 1:1": {"aspects": ["9:16", "1:1"]},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    reelflow_bin = str(Path(sys.executable).parent / "reelflow")
    with tempfile.TemporaryDirectory(prefix="reelflow-features-") as tmp:
        folder = Path(tmp)
        voice, background, transcript, duration = make_inputs(folder, args.seconds)
        base = reel_spec(voice, background, transcript)
        env = dict(os.environ, REELFLOW_DATA_DIR=str(folder / "data"))
        env.pop("PREFECT_API_URL", None)
        env.pop("REELFLOW_PREFECT_API_URL", None)
        hand_cmd = hand_built(folder, parse_spec(base), duration, voice, background)

        def command(name: str, overrides: dict) -> list[str]:
            # a look replaces the plain reel's captions: fields given beside a look win over it
            spec = base | overrides
            parse_spec(spec)  # a refused combination fails here, not mid-benchmark
            path = folder / f"{name.replace(' ', '_').replace(':', 'x')}.yaml"
            path.write_text(yaml.safe_dump(spec))
            return [reelflow_bin, "render", str(path), "-o", str(path.with_suffix(".mp4")),
                    "--no-cache"]  # fmt: skip

        commands = {"plain": command("plain", {})}
        commands |= {name: command(name, o) for name, o in VARIANTS.items()}
        timed(commands["plain"], folder, env)  # warm-up: page cache, music library
        walls: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            walls.setdefault("hand", []).append(timed(hand_cmd, folder)[0])
            for name, cmd in commands.items():
                walls.setdefault(name, []).append(timed(cmd, folder, env)[0])
        med = {name: statistics.median(v) for name, v in walls.items()}
        plain, hand = med["plain"], med["hand"]
        print(f"reel {duration:.1f} s, high, no server, --no-cache; medians of {args.repeat}")
        print(f"hand-built one ffmpeg command {hand:6.2f} s")
        print(f"plain reel                    {plain:6.2f} s   {plain / hand:.2f}x hand-built")
        print(f"{'variant':28} {'wall s':>7} {'/ plain':>8} {'/ hand':>8}")
        for name in VARIANTS:
            print(f"{name:28} {med[name]:7.2f} {med[name] / plain:8.2f} {med[name] / hand:8.2f}")


if __name__ == "__main__":
    main()
