"""Forced-alignment benchmark: boundary errors, fallbacks, speed and memory.

    .venv/bin/python bench/align.py                 # align-dev + synthetic + 10-minute run
    .venv/bin/python bench/align.py --corpus dev    # one corpus: dev | synthetic | long
    .venv/bin/python bench/align.py --plain         # the plain pocketsphinx recipe, for contrast
    .venv/bin/python bench/align.py --languages     # es fr de pt it hi zh ja (synthesis + DTW)

align-dev (human speech, TIMIT sample) is read from ../shared/align-dev and never copied; the
synthetic corpus is spoken by `reelflow.engine.speech.tts` (espeak-ng), whose word events are the
ground truth. Speed is audio seconds per CPU second of `align()` in this one process (one
core), with decoders already loaded. Peak RSS of the long run is measured in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reelflow.engine.alignment.align import align  # noqa: E402

DEV_DIR = ROOT.parent / "shared" / "align-dev"

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "After the meeting, we walked to the station and waited for the last train home.",
    "Please remember to water the plants before you leave for the weekend.",
    "Our revenue grew 37% in 2023, reaching $4.5 million by the third quarter.",
    "Doctor Okonkwo flew from Lagos to Reykjavik on March 21st with 3 colleagues.",
    "The zyzzyva and the quokka are rarely mentioned in the same sentence.",
    "Call me at 7:30pm, or text me before 9am tomorrow.",
    "Kubernetes clusters autoscale when the workload exceeds 80 percent.",
    "In 1969, Neil Armstrong walked on the moon while millions watched on television.",
    "Siobhan and Nguyen presented their state-of-the-art research at NeurIPS.",
    "It costs $19.99, but members get 10% off, so don't forget your card!",
    "The 1990s gave us grunge, dial-up internet, and the first smartphones.",
    "We sold 1,250 tickets in 48 hours; the venue holds 2,000 people.",
    "Photosynthesis converts sunlight, water, and carbon dioxide into glucose.",
    "My grandmother's recipe calls for 2 cups of flour and 3/4 cup of sugar.",
    "Tchaikovsky composed the Nutcracker, which premiered in Saint Petersburg.",
    "The CEO said the merger will close in Q3, pending regulatory approval.",
    "Honestly, I didn't expect the sequel to be better than the original.",
    "Xochitl ordered a flat white, an espresso, and two croissants.",
    "The marathon's fastest runner finished in 2 hours, 1 minute and 9 seconds.",
    "Quantum entanglement puzzled Einstein, who called it spooky action at a distance.",
    "Set the oven to 350 degrees and bake for 25 minutes.",
    "Her TikTok about sourdough went viral overnight, with 2.3 million views.",
    "Wednesday's forecast: scattered showers, highs of 18, and gusty winds.",
]
VOICES = [("en-us", 165), ("en-us+f3", 185), ("en-us+m3", 145), ("en-gb-x-rp", 170)]


@dataclass
class Scores:
    start: list[float] = field(default_factory=list)
    end: list[float] = field(default_factory=list)
    utterances: int = 0
    fallbacks: int = 0
    failures: int = 0
    audio_s: float = 0.0
    cpu_s: float = 0.0

    def add(self, truth: list[tuple[float, float]], got, audio_s: float, cpu_s: float) -> None:
        self.utterances += 1
        self.audio_s += audio_s
        self.cpu_s += cpu_s
        if got is None or len(got.words) != len(truth):
            self.failures += 1
            return
        if got.method != "aligned":
            self.fallbacks += 1
        for (t0, t1), w in zip(truth, got.words, strict=True):
            self.start.append(w.start_s - t0)
            self.end.append(w.end_s - t1)

    def rows(self, name: str) -> list[str]:
        s, e = np.abs(self.start) * 1000, np.abs(self.end) * 1000
        both = np.concatenate([s, e])
        return [
            f"{name}: {self.utterances} utterances, {len(s)} words, {self.audio_s:.0f} s of audio",
            f"  start  MAE {s.mean():5.1f} ms  median {np.median(s):5.1f} ms  "
            f"<=20 ms {np.mean(s <= 20) * 100:5.1f}%  <=50 ms {np.mean(s <= 50) * 100:5.1f}%",
            f"  end    MAE {e.mean():5.1f} ms  median {np.median(e):5.1f} ms  "
            f"<=20 ms {np.mean(e <= 20) * 100:5.1f}%  <=50 ms {np.mean(e <= 50) * 100:5.1f}%",
            f"  all boundaries <=20 ms {np.mean(both <= 20) * 100:5.1f}%  "
            f"<=50 ms {np.mean(both <= 50) * 100:5.1f}%",
            f"  fallbacks {self.fallbacks}/{self.utterances} "
            f"({self.fallbacks / max(1, self.utterances) * 100:.1f}%), "
            f"without timings {self.failures}",
            f"  speed {self.audio_s / max(self.cpu_s, 1e-9):.0f}x real time (one core)",
        ]


def iter_dev():
    import soundfile as sf

    if not DEV_DIR.is_dir():
        print(f"align-dev not found at {DEV_DIR}; skipping")
        return
    for meta in sorted(DEV_DIR.glob("*.json")):
        data = json.loads(meta.read_text())
        samples, rate = sf.read(meta.with_suffix(".wav"), dtype="float32")
        truth = [(w["start"], w["end"]) for w in data["words"]]
        yield meta.stem, samples, rate, data["transcript"], truth


def iter_synthetic():
    from reelflow.engine.speech.tts import synthesize

    for i, text in enumerate(SENTENCES):
        for voice, rate in VOICES:
            syn = synthesize(text, voice=voice, rate_wpm=rate)
            truth = [(w.start_s, w.end_s) for w in syn.words.words]
            yield f"syn{i:02d}-{voice}", syn.samples, syn.sample_rate, text, truth


def run_corpus(name: str, items, aligner) -> Scores:
    scores = Scores()
    for _, samples, rate, text, truth in items:
        t0 = time.process_time()
        try:
            got = aligner(samples, rate, text)
        except Exception as exc:  # a benchmark reports failures instead of stopping
            print(f"  {name}: {type(exc).__name__}: {exc}")
            got = None
        scores.add(truth, got, samples.shape[0] / rate, time.process_time() - t0)
    return scores


def plain_recipe(samples: np.ndarray, rate: int, text: str):
    """pocketsphinx as documented: set_align_text, decode, seg() (default settings)."""
    from pocketsphinx import Decoder

    from reelflow.engine.timing import WordTiming, WordTimings

    global _PLAIN
    if "_PLAIN" not in globals():
        _PLAIN = Decoder(lm=None, loglevel="FATAL")
    if rate != 16000:
        from scipy.signal import resample_poly

        samples = resample_poly(samples, 16000, rate)
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    words = [re.sub(r"[^a-z']", "", w.lower()) for w in text.split()]
    _PLAIN.set_align_text(" ".join(words))
    _PLAIN.start_utt()
    _PLAIN.process_raw(pcm.tobytes(), full_utt=True)
    _PLAIN.end_utt()
    segs = [s for s in (_PLAIN.seg() or []) if not s.word.startswith(("<", "["))]
    if len(segs) != len(words):
        return None
    out = [
        WordTiming(w, s.start_frame / 100, (s.end_frame + 1) / 100)
        for w, s in zip(words, segs, strict=False)
    ]
    return WordTimings(tuple(out), "aligned")


def write_long(minutes: float, folder: Path) -> Path:
    """Concatenate synthetic sentences (0.4 s apart) into `minutes` of speech: WAV + truth."""
    from reelflow.engine.audio import write_wav
    from reelflow.engine.speech.tts import synthesize

    parts, texts, truth, t, i = [], [], [], 0.0, 0
    while t < minutes * 60:
        text = SENTENCES[i % len(SENTENCES)]
        voice, rate = VOICES[(i // len(SENTENCES)) % len(VOICES)]
        syn = synthesize(text, voice=voice, rate_wpm=rate)
        truth += [(w.start_s + t, w.end_s + t) for w in syn.words.words]
        parts += [syn.samples, np.zeros(int(0.4 * syn.sample_rate), dtype=np.float32)]
        texts.append(text)
        t += syn.duration_s + 0.4
        i += 1
    wav = folder / f"long-{minutes:g}min.wav"
    write_wav(wav, np.concatenate(parts), 22050)
    wav.with_suffix(".json").write_text(json.dumps({"transcript": " ".join(texts), "truth": truth}))
    return wav


def long_run(wav: Path) -> None:
    """Align a long WAV in this (fresh) process; print accuracy, speed and peak RSS."""
    from reelflow.engine.alignment.align import align_file

    meta = json.loads(wav.with_suffix(".json").read_text())
    scores = Scores()
    t0 = time.process_time()
    got = align_file(wav, meta["transcript"])
    cpu = time.process_time() - t0
    audio_s = got.details.get("duration_s", 0.0)
    scores.add([tuple(t) for t in meta["truth"]], got, float(audio_s), cpu)
    rss_mb = _peak_rss_mb()
    print("\n".join(scores.rows(f"long ({float(audio_s) / 60:.1f} min, one align_file call)")))
    print(
        f"  method {got.method}, windows {got.details.get('windows')}, "
        f"cpu {cpu:.1f} s (includes loading the model), peak RSS {rss_mb:.0f} MB"
    )


def _peak_rss_mb() -> float:
    """Peak resident memory of this process image (Linux VmHWM, which starts afresh at exec;
    ru_maxrss would also count the parent's pages shared between fork and exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ablate(*, no_repair: bool, no_refine: bool) -> None:
    """Switch off one improvement in this benchmark process, to show what it contributes."""
    from reelflow.engine.alignment import pcm, refine

    if no_repair:
        pcm.repair_byte_slips = lambda samples: (samples, 0)
    if no_refine:
        refine.SEARCH_BEFORE_S = refine.SEARCH_INTO_S = 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=["dev", "synthetic", "long", "all"], default="all")
    parser.add_argument("--plain", action="store_true", help="the plain pocketsphinx recipe")
    parser.add_argument("--no-repair", action="store_true", help="ablation: no byte-slip repair")
    parser.add_argument("--no-refine", action="store_true", help="ablation: no pause-edge refine")
    parser.add_argument("--by-speaker", action="store_true", help="align-dev per speaker too")
    parser.add_argument("--long-minutes", type=float, default=10.0)
    parser.add_argument("--long-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--languages", action="store_true", help="the multilingual corpus only")
    args = parser.parse_args()
    if args.languages:
        from bench.align_languages import run_languages

        print(f"# reelflow multilingual alignment benchmark, {time.strftime('%Y-%m-%d')}")
        print("\n".join(run_languages()))
        return
    if args.long_child:
        long_run(args.long_child)
        return
    _ablate(no_repair=args.no_repair, no_refine=args.no_refine)
    aligner = plain_recipe if args.plain else align
    align(np.zeros(16000, np.float32), 16000, "warm up")  # load the decoder before timing
    print(f"# reelflow alignment benchmark, {time.strftime('%Y-%m-%d')}, "
          f"{'plain recipe' if args.plain else 'reelflow align()'}")  # fmt: skip
    if args.corpus in ("dev", "all"):
        print("\n".join(run_corpus("align-dev", iter_dev(), aligner).rows("align-dev")))
        if args.by_speaker:
            for speaker in sorted({name.split("_")[0] for name, *_ in iter_dev()}):
                items = (item for item in iter_dev() if item[0].startswith(speaker + "_"))
                scores = run_corpus(speaker, items, aligner)
                s, e = np.abs(scores.start) * 1000, np.abs(scores.end) * 1000
                both = np.concatenate([s, e])
                print(f"  {speaker}: start MAE {s.mean():5.1f} ms, end MAE {e.mean():5.1f} ms, "
                      f"<=50 ms {np.mean(both <= 50) * 100:5.1f}%")  # fmt: skip
    if args.corpus in ("synthetic", "all"):
        print("\n".join(run_corpus("synthetic", iter_synthetic(), aligner).rows("synthetic")))
    if args.corpus in ("long", "all") and not args.plain:
        with tempfile.TemporaryDirectory() as folder:
            for minutes in sorted({args.long_minutes / 4, args.long_minutes}):
                wav = write_long(minutes, Path(folder))
                subprocess.run([sys.executable, __file__, "--long-child", str(wav)], check=True)


if __name__ == "__main__":
    main()
