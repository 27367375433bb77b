"""Demo benchmark: `reelflow demo` cold and cached against the engine-only reference.

    .venv/bin/python bench/demo.py [--quality high] [--runs 20]

Each figure is a separate process, as a user runs it (Python start-up included), without a
Prefect server. In one run, alternating:
  engine      the demo reel from its step functions in order (bench/engine_reel.py)
  cold        `reelflow demo` with a fresh data folder (target <= 1.15x engine)
  cached      the same command again, every step a cache hit (target <= 3 s, <= 12 % of cold)
Then `--runs` consecutive cold demos, each in a fresh data folder: how many exited 0 and how
many printed a traceback (target: all, none).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINE = (
    "import sys; sys.path.insert(0, {root!r}); from pathlib import Path;"
    "from bench.engine_reel import render_engine_only; from reelflow.demo import demo_spec;"
    "from reelflow.settings import Settings;"
    "render_engine_only(demo_spec(quality={quality!r}), Path({out!r}),"
    " settings=Settings(data_dir=Path({data!r})))"
)


def run(cmd: list[str], data: Path) -> tuple[float, int, str]:
    env = dict(os.environ, REELFLOW_DATA_DIR=str(data))
    env.pop("PREFECT_API_URL", None)
    env.pop("REELFLOW_PREFECT_API_URL", None)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    return time.perf_counter() - start, proc.returncode, proc.stdout + proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quality", default="high")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", type=int, default=0)
    args = parser.parse_args()
    reelflow = str(Path(sys.executable).parent / "reelflow")
    figures: dict[str, list[float]] = {"engine": [], "cold": [], "cached": []}
    with tempfile.TemporaryDirectory(prefix="reelflow-demobench-") as tmp:
        folder = Path(tmp)
        for rep in range(args.repeat):
            data, out = folder / f"engine-{rep}", folder / f"engine-{rep}.mp4"
            code = ENGINE.format(root=str(ROOT), quality=args.quality, out=str(out),
                                 data=str(data))  # fmt: skip
            seconds, status, output = run([sys.executable, "-c", code], data)
            assert status == 0, output
            figures["engine"].append(seconds)
            data, out = folder / f"cli-{rep}", folder / f"cli-{rep}.mp4"
            cmd = [reelflow, "demo", "--quality", args.quality, "-o", str(out)]
            for name in ("cold", "cached"):
                seconds, status, output = run(cmd, data)
                assert status == 0, output
                figures[name].append(seconds)
        failures = tracebacks = 0
        for i in range(args.runs):
            data = folder / f"many-{i}"
            _, status, output = run([reelflow, "demo", "-o", str(data / "demo.mp4")], data)
            failures += status != 0
            tracebacks += "Traceback" in output
    engine, cold, cached = (statistics.median(figures[k]) for k in ("engine", "cold", "cached"))
    print(f"demo reel, {args.quality}: median of {args.repeat} (runs in brackets)")
    rows = (
        ("engine-only reference", "engine", ""),
        ("reelflow demo, fresh data folder", "cold", f"{cold / engine:.2f}x engine (<= 1.15x)"),
        (
            "reelflow demo, unchanged re-run",
            "cached",
            f"{cached / cold:.0%} of cold (<= 12 %)",
        ),
    )
    for name, key, note in rows:
        runs = " ".join(f"{v:.2f}" for v in figures[key])
        print(f"{name:34} {statistics.median(figures[key]):7.2f} s  {note} [{runs}]")
    if args.runs:
        print(f"{args.runs} fresh demos: {args.runs - failures} exit 0, {tracebacks} tracebacks")


if __name__ == "__main__":
    main()
