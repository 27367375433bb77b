"""The engine-only reference: one reel from its pure step functions, in order, in one thread.

Measurement code, not a second runner: no cache, no retries, no progress, no concurrency. The
benchmarks compare `reelflow render` / `reelflow demo` (the DAG of `reelflow.flows.dag`) with
this, the cost of the work itself.
"""

from __future__ import annotations

import time
from pathlib import Path

from reelflow.models import ReelSpec
from reelflow.settings import Settings
from reelflow.tasks import music as m
from reelflow.tasks import picture as p
from reelflow.tasks import voice as v


def render_engine_only(spec: ReelSpec, out: Path, *, settings: Settings) -> dict[str, float]:
    """Render `spec` to `out` by calling each step's function; return seconds per stage."""
    work = settings.work_dir
    work.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    def timed(stage: str, step, **kwargs):
        start = time.perf_counter()
        result = step.fn(**kwargs)
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - start
        return result

    timed("check", v.check_inputs, spec=spec)
    voice = timed("voice", v.prepare_voice, script=spec.script,
                  voiceover=spec.voiceover or spec.video, voice_name=spec.speech_voice,
                  rate_wpm=spec.speaking_rate_wpm, platform=spec.platform,
                  out_dir=work)  # fmt: skip
    words = timed("words", v.align_words, voice=voice, transcript=spec.text,
                  known=spec.word_timings, language=spec.text_language)  # fmt: skip
    analysis = timed("voice_analysis", v.analyze_voice, voice=voice, transcript=spec.text)
    captions = timed("captions", p.build_captions, words=words, spec=spec.captions,
                     quality=spec.quality, platform=spec.platform, aspect=spec.output_aspects[0],
                     duration_s=voice.duration_s, language=spec.language,
                     out_dir=work)  # fmt: skip
    background = timed("background", p.prepare_background, spec=spec.background)
    track = timed("music", m.prepare_music, spec=spec.music, analysis=analysis,
                  duration_s=voice.duration_s, library_dir=settings.music_dir,
                  out_dir=work)  # fmt: skip
    beats = timed("music", m.analyze_music, music=track)
    levels = timed("music", m.measure_music_levels, voice=voice, music=track)
    mix = timed("music", m.plan_audio_mix, voice=voice, analysis=analysis, music=track,
                beats=beats, levels=levels, spec=spec.music, platform=spec.platform,
                out_dir=work)  # fmt: skip
    camera = timed("effects", p.plan_effects, spec=spec.effects, beats=beats, mix=mix)
    result = timed("render", p.render_reel, mix=mix, background=background, camera=camera,
                   captions=captions.path, quality=spec.quality, platform=spec.platform,
                   aspect=spec.output_aspects[0], title=spec.title,
                   progress_bar_colour=spec.progress_bar_colour,
                   encoder=spec.encoder, allow_gpu=settings.enable_gpu_acceleration,
                   max_file_size_mb=spec.max_file_size_mb, threads=settings.ffmpeg_threads,
                   out_dir=work)  # fmt: skip
    timed("stored", p.publish, result=result, target=out)
    return seconds
