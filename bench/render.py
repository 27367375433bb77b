"""Render benchmark: `reelflow render` against bare ffmpeg and a hand-built one-command reel.

    .venv/bin/python bench/render.py [--seconds 30] [--qualities low,medium,high,ultra]

Builds its own inputs (a spoken voice, a 1920x1080 30 fps video background), then times in the
same run, each as a separate process whose peak RSS (whole process tree) is sampled:
  floor      bare ffmpeg: colour background + the voice, same size, preset and CRF
  hand       the same reel built by hand as one ffmpeg command (crop, zoompan beat pulses, the
             reel's own ASS captions, sidechain-ducked music, loudnorm, same encoder settings)
  reelflow   `reelflow render spec.yaml` (voiceover + transcript, video background, dynamic
             beat zoom, highlight captions, ducked preset music), including Python start-up
and then `reelflow render` at each quality preset. Prints one table; paste it into README.md.
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

from bench.common import free_port, start_prefect_server, stop, timed  # noqa: E402
from reelflow.engine import ffmpeg  # noqa: E402
from reelflow.engine.speech.tts import synthesize_to_wav  # noqa: E402
from reelflow.models import parse_spec  # noqa: E402
from reelflow.presets import QUALITY_PRESETS  # noqa: E402

SCRIPT = (
    "Here is what nobody tells you about short videos. The first second decides everything. "
    "If the words on screen lag behind the voice, people scroll away. If the music drowns "
    "the voice, people scroll away. So every word lands exactly when it is spoken, the music "
    "steps back whenever you talk, and the picture moves with the beat. That is the whole "
    "trick, and now it takes one command instead of an afternoon in an editor. Try it on "
    "your next idea and watch what happens to your retention."
)


def make_inputs(folder: Path, seconds: float) -> tuple[Path, Path, str, float]:
    voice = synthesize_to_wav(SCRIPT, folder / "voice.wav", rate_wpm=175)
    duration = min(seconds, voice.duration_s)
    background = folder / "background.mp4"
    ffmpeg.run(
        ["-loglevel", "error", "-f", "lavfi", "-i", f"testsrc2=s=1920x1080:r=30:d={duration}",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
         str(background)]
    )  # fmt: skip
    return folder / "voice.wav", background, SCRIPT, duration


def reel_spec(voice: Path, background: Path, transcript: str) -> dict:
    """The benchmark reel's spec: uploaded voice, video background, music, captions, effects."""
    return {
        "voiceover": str(voice),
        "transcript": transcript,
        "background": {"type": "video", "path": str(background)},
        "music": {"preset": "upbeat"},
        "captions": {"animation": "highlight"},
        "effects": {"preset": "dynamic"},
        "quality": "high",
    }


def hand_built(folder: Path, spec, duration: float, voice: Path, background: Path) -> list[str]:
    """What an expert would type: one ffmpeg command for the same reel."""
    q = QUALITY_PRESETS["high"]
    from reelflow.engine.alignment.align import align_file
    from reelflow.engine.captions.ass import write_captions
    from reelflow.presets import PLATFORM_PRESETS

    words = align_file(voice, spec.text)  # the same alignment reelflow uses for an upload
    ass = write_captions(
        words, spec.captions.to_style(), folder / "captions.ass", width=q.width,
        height=q.height, safe_zone=PLATFORM_PRESETS["instagram"].safe_zone, duration_s=duration,
    )  # fmt: skip
    from reelflow.engine.music.tracks import preset_track
    from reelflow.presets import MUSIC_PRESETS

    music = preset_track(MUSIC_PRESETS["upbeat"], duration + 4, cache_dir=folder / "music")
    period = 60 / 128 * 2
    zoom = f"1.04*(1+0.04*max(0,1-mod(it,{period:.4f})/0.3))"
    from reelflow.engine.captions.fonts import fonts_dir

    graph = (
        f"[0:v]fps=30,crop=min(iw\\,ih*9/16):min(ih\\,iw*16/9),"
        f"zoompan=z='{zoom}':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d=1:s=1080x1920:fps=30,"
        f"ass={ass.path}:fontsdir={fonts_dir()},format=yuv420p[v];"
        "[1:a]aresample=48000,aformat=channel_layouts=mono,asplit[vo][sc];"
        "[2:a]volume=-18dB[m];[m][sc]sidechaincompress=threshold=0.02:ratio=8:attack=80:"
        "release=400[md];[vo][md]amix=inputs=2:normalize=0:duration=first,"
        "loudnorm=I=-14:TP=-1.5,aresample=48000[a]"
    )
    return [
        ffmpeg.ffmpeg_exe(), "-y", "-loglevel", "error",
        "-i", str(background), "-i", str(voice), "-i", str(music),
        "-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-t", f"{duration:.3f}",
        "-c:v", "libx264", "-preset", q.x264_preset, "-crf", str(q.crf), "-profile:v", "high",
        "-c:a", "aac", "-b:a", f"{q.audio_kbps}k", "-movflags", "+faststart",
        str(folder / "hand.mp4"),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--qualities", default="low,medium,high,ultra")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds of hand-built / no server / server at high, alternating",
    )
    args = parser.parse_args()
    reelflow_bin = str(Path(sys.executable).parent / "reelflow")
    with tempfile.TemporaryDirectory(prefix="reelflow-bench-") as tmp:
        folder = Path(tmp)
        voice, background, transcript, duration = make_inputs(folder, args.seconds)
        spec_data = reel_spec(voice, background, transcript)
        spec = parse_spec(spec_data)
        env_dir = folder / "data"
        port = free_port()
        server = start_prefect_server(folder / "prefect", port)
        # A running server, as `reelflow up` provides; without one the DAG runs in-process.
        served = dict(os.environ, REELFLOW_DATA_DIR=str(env_dir),
                      PREFECT_API_URL=f"http://127.0.0.1:{port}/api")  # fmt: skip
        local = dict(os.environ, REELFLOW_DATA_DIR=str(env_dir))
        local.pop("PREFECT_API_URL", None)
        local.pop("REELFLOW_PREFECT_API_URL", None)
        q = QUALITY_PRESETS["high"]
        floor_cmd = [
            ffmpeg.ffmpeg_exe(), "-y", "-loglevel", "error",
            "-f", "lavfi", "-i", f"color=c=0x203040:s={q.width}x{q.height}:r={q.fps}",
            "-i", str(voice), "-t", f"{duration:.3f}", "-map", "0:v", "-map", "1:a",
            "-c:v", "libx264", "-preset", q.x264_preset, "-crf", str(q.crf), "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", f"{q.audio_kbps}k", str(folder / "floor.mp4"),
        ]  # fmt: skip
        hand_cmd = hand_built(folder, spec, duration, voice, background)
        import yaml

        def render_cmd(quality: str) -> list[str]:
            spec_file = folder / f"spec-{quality}.yaml"
            spec_file.write_text(yaml.safe_dump(spec_data | {"quality": quality}))
            # --no-cache: every run really renders (the voice, music and analysis steps run
            # again too); the warm-up fills the OS page cache and the music library.
            return [reelflow_bin, "render", str(spec_file), "-o", str(folder / f"{quality}.mp4"),
                    "--no-cache"]  # fmt: skip

        rounds: dict[str, list[tuple[float, float, float]]] = {}
        per_process: dict[str, dict[str, int]] = {}
        try:
            floor = timed(floor_cmd, folder)
            high = render_cmd("high")
            timed(high, folder, served)  # warm-up
            for _ in range(args.repeat):  # alternating, so a slow minute hits all three
                rounds.setdefault("hand", []).append(timed(hand_cmd, folder))
                rounds.setdefault("local", []).append(timed(high, folder, local))
                names: dict[str, int] = {}
                rounds.setdefault("served", []).append(timed(high, folder, served, names))
                per_process["high"] = names
            others = {}
            for quality in [x for x in args.qualities.split(",") if x and x != "high"]:
                names = {}
                others[quality] = timed(render_cmd(quality), folder, served, names)
                per_process[quality] = names
        finally:
            stop(server)
        med = {k: tuple(statistics.median(r[i] for r in v) for i in range(3))
               for k, v in rounds.items()}  # fmt: skip
        rows = [("floor (ffmpeg, colour + voice)", *floor),
                ("hand-built one ffmpeg command", *med["hand"]),
                ("reelflow render, high, no server", *med["local"]),
                ("reelflow render, high, server", *med["served"])]  # fmt: skip
        rows += [(f"reelflow render, {k}, server", *v) for k, v in others.items()]
        print("reelflow render runs with --no-cache; 'server' rows run against a running Prefect")
        print("server (PREFECT_API_URL set), 'no server' runs the same DAG in-process.")
        print(f"reel: {duration:.1f} s, 1920x1080 video background; high rows are medians of "
              f"{args.repeat} alternating rounds")  # fmt: skip
        print(f"{'run':36} {'wall s':>8} {'x real time':>12} {'CPU s':>8} {'peak RSS MB':>12}")
        for name, wall, cpu, rss in rows:
            print(f"{name:36} {wall:8.2f} {duration / wall:12.2f} {cpu:8.1f} {rss:12.0f}")
        for quality, names in per_process.items():
            largest = ", ".join(f"{n} {kb / 1024:.0f} MB" for n, kb in sorted(names.items()))
            print(f"peak RSS per process, {quality}: {largest}")
        for key in ("hand", "local", "served"):
            print(f"rounds {key:7}: " + " ".join(f"{r[0]:.2f}" for r in rounds[key]))
        ratios = {k: [r[0] / h[0] for r, h in zip(rounds[k], rounds["hand"], strict=True)]
                  for k in ("local", "served")}  # fmt: skip
        hand = med["hand"]
        print(
            f"reelflow high, no server / hand-built: {med['local'][0] / hand[0]:.2f}x wall "
            f"(per round {' '.join(f'{x:.2f}' for x in ratios['local'])})   (target <= 1.30x)"
        )
        print(
            f"reelflow high, server / hand-built: {med['served'][0] / hand[0]:.2f}x wall, "
            f"{med['served'][1] / hand[1]:.2f}x CPU "
            f"(per round {' '.join(f'{x:.2f}' for x in ratios['served'])})   (target <= 1.25x)"
        )
        print(f"reelflow high, server / floor: {med['served'][0] / floor[0]:.2f}x wall")


if __name__ == "__main__":
    main()
