"""Pre-render benchmark: how long the DAG takes to reach the render pass, and the pass itself.

    .venv/bin/python bench/prerender.py [--seconds 30] [--repeat 3]

The 30 s reel of bench/render.py (uploaded voice, 1920x1080 video background, dynamic
effects, highlight captions, the upbeat preset ducked, high), run in a fresh process through
the in-process DAG with every step recomputed (`refresh_cache`; the music library is warm, as
after a first reel). From the run's own progress events: pre-render = `running` to the
`effects` milestone (voice, words, voice analysis, music, music analysis, levels, mix,
effects, captions, all done), render = `effects` to `render`. Target: pre-render <= 2 s wall,
or <= 10 % of the render pass on a slow day. Also the run's wall time and the process's CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = """
import json, resource, sys, time
start = time.perf_counter()
sys.path.insert(0, {root!r})
from pathlib import Path
from reelflow.flows.runtime import RunContext, local_listener
from reelflow.models import parse_spec
from reelflow.settings import Settings
from reelflow.tasks.step import Step
events, steps = [], []
_call = Step.call
def timed_call(self, settings, parameters, **kw):
    begun = time.perf_counter()
    try:
        return _call(self, settings, parameters, **kw)
    finally:
        steps.append((self.name, begun, time.perf_counter()))
Step.call = timed_call
local_listener.set(lambda e: events.append((e.status, e.stage, e.progress, time.perf_counter())))
spec = parse_spec(json.loads({spec!r}))
context = RunContext(output=Path({out!r}), refresh_cache={refresh})
if {served!r}:
    import os
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from reelflow.flows.reel import generate_reel
    from reelflow.flows.runtime import in_process_runs
    with in_process_runs():
        assert generate_reel(spec, context, return_state=True).is_completed()
else:
    from reelflow.flows.local import run_reel
    settings = Settings(data_dir=Path({data!r}), enable_gpu_acceleration=False)
    run_reel(spec, context, settings=settings)
first = next(t for s, st, p, t in events if s == "running")
effects = next(t for s, st, p, t in events if st == "effects" and p == 70)
rendered = next(t for s, st, p, t in events if st == "render" and p == 90)
cpu = resource.getrusage(resource.RUSAGE_SELF)
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({{"imports": first - start, "prerender": effects - first,
    "render": rendered - effects, "total": time.perf_counter() - start,
    "cpu_self": cpu.ru_utime + cpu.ru_stime,
    "cpu_children": children.ru_utime + children.ru_stime,
    "steps": [(n, round(a - first, 2), round(b - first, 2)) for n, a, b in steps]}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--server",
        action="store_true",
        help="run on a throwaway Prefect server, as `reelflow render` does with "
        "PREFECT_API_URL set ('imports' then also covers creating the run)",
    )
    args = parser.parse_args()
    from bench.render import make_inputs, reel_spec

    with tempfile.TemporaryDirectory(prefix="reelflow-prerender-") as tmp:
        folder = Path(tmp)
        voice, background, transcript, duration = make_inputs(folder, args.seconds)
        spec = reel_spec(voice, background, transcript)
        figures: list[dict[str, float]] = []
        env = {k: v for k, v in os.environ.items() if "PREFECT_API_URL" not in k}
        env["REELFLOW_DATA_DIR"] = str(folder / "data")
        server = None
        if args.server:
            from bench.common import free_port, start_prefect_server

            port = free_port()
            server = start_prefect_server(folder / "prefect", port)
            env["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
        try:
            for rep in range(args.repeat + 1):  # the first run warms the library and page cache
                code = CHILD.format(root=str(ROOT), spec=json.dumps(spec),
                                    data=str(folder / "data"), out=str(folder / f"r{rep}.mp4"),
                                    refresh=True, served=args.server)  # fmt: skip
                proc = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                      text=True, env=env, check=True)  # fmt: skip
                if rep:
                    figures.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        finally:
            if server is not None:
                from bench.common import stop

                stop(server)
    print(f"reel: {duration:.1f} s, high, uploaded voice, video background, music, effects")
    print(f"median of {args.repeat} (runs in brackets), seconds")
    for key in ("imports", "prerender", "render", "total", "cpu_self", "cpu_children"):
        values = [f[key] for f in figures]
        print(
            f"{key:14} {statistics.median(values):7.2f}  [{' '.join(f'{v:.2f}' for v in values)}]"
        )
    print("steps of the last run (start, end, seconds from `running`):")
    for name, begun, ended in figures[-1]["steps"]:
        print(f"  {name:20} {begun:6.2f} {ended:6.2f}")
    pre = statistics.median(f["prerender"] for f in figures)
    render = statistics.median(f["render"] for f in figures)
    print(f"pre-render {pre:.2f} s = {pre / render:.1%} of the render pass (<= 2 s or <= 10 %)")


if __name__ == "__main__":
    main()
