"""The voice's steps: check the inputs, prepare the voice, time its words, analyse it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from reelflow.engine import audio
from reelflow.engine.alignment.align import align_file
from reelflow.engine.child import call_in_child
from reelflow.engine.errors import InputError
from reelflow.engine.ffmpeg import probe
from reelflow.engine.render.background import Background, check_background
from reelflow.engine.speech import analysis as voice_analysis
from reelflow.engine.speech import voices
from reelflow.engine.speech.pauses import Cuts, apply_cuts, plan_pause_cuts
from reelflow.engine.speech.piper import synthesize_piper
from reelflow.engine.speech.tts import synthesize_to_wav
from reelflow.engine.text import tokenize
from reelflow.engine.timing import WordTiming, WordTimings
from reelflow.models import ReelSpec, WordTimingsSpec
from reelflow.presets import PLATFORM_PRESETS
from reelflow.tasks.step import step

VOICE_RATE = 48_000


@dataclass(frozen=True)
class PreparedVoice:
    """The voice as a 48 kHz mono WAV, plus the synthesiser's word timings for scripts.

    With pause trimming, `path` and `duration_s` are the shortened voice that everything after
    hears (analysis, music, mix, render); `cuts` say what was kept of the upload, whose own
    timeline word timings stay on (aligned there, stored there, moved by `cuts` for captions).
    """

    path: Path
    duration_s: float
    synthesized: WordTimings | None = None
    source: Path | None = None  # the user's upload, which the aligner reads as it is
    cuts: Cuts | None = None
    untrimmed: Path | None = None  # the upload decoded to 48 kHz, before trimming

    @property
    def source_duration_s(self) -> float:
        """Length of the voice's own timeline (the upload's, when pauses were trimmed)."""
        return self.cuts.source_duration_s if self.cuts is not None else self.duration_s


@step("check-inputs", cached=False, retries=0)
def check_inputs(*, spec: ReelSpec) -> None:
    """Probe every input file before any work: each must exist and hold the right media."""
    if spec.voiceover is not None:
        info = probe(spec.voiceover, field="voiceover")
        if info.audio is None:
            raise InputError(f"{spec.voiceover.name} has no audio stream", field="voiceover")
    if spec.video is not None:
        info = probe(spec.video, field="video")
        if info.audio is None or info.video is None or info.is_still_image:
            raise InputError(
                f"{spec.video.name} needs a picture and a sound track (the voice)", field="video"
            )
    if spec.music.file is not None:
        info = probe(spec.music.file, field="music.file")
        if info.audio is None:
            raise InputError(f"{spec.music.file.name} has no audio stream", field="music.file")
    check_background(
        Background(kind=spec.background.type, colors=tuple(spec.background.colors),
                   files=tuple(spec.background.files))
    )  # fmt: skip


@step("prepare-voice")
def prepare_voice(
    *,
    script: str | None,
    voiceover: Path | None,
    voice_name: str,
    rate_wpm: int,
    platform: str,
    trim_pauses_over_s: float | None = None,
    frame_rate: int | None = None,
    out_dir: Path,
) -> PreparedVoice:
    """Synthesise the script or decode the uploaded voice; enforce the platform's duration.

    `trim_pauses_over_s` shortens an uploaded voice's longer pauses to that many seconds, cut
    on the output's frame grid (`frame_rate`) so a video's picture can be cut the same way.
    """
    target = out_dir / "voice.wav"
    choice = voices.resolve(voice_name)
    if script and choice.engine == "piper":
        # Piper gives no word timings: align-words aligns this audio to its own text.
        samples, rate = synthesize_piper(script, voice=choice.name, rate_wpm=rate_wpm)
        samples = soxr.resample(samples, rate, VOICE_RATE, quality="HQ")
        audio.write_wav(target, np.clip(samples, -1.0, 1.0).astype(np.float32), VOICE_RATE)
        prepared = PreparedVoice(target, len(samples) / VOICE_RATE)
    elif script:
        synthesis = synthesize_to_wav(
            script, target, sample_rate=VOICE_RATE, voice=choice.name, rate_wpm=rate_wpm
        )
        prepared = PreparedVoice(
            target, len(synthesis.samples) / synthesis.sample_rate, synthesis.words
        )
    elif voiceover is not None:
        samples = audio.load_audio(
            voiceover,
            sample_rate=VOICE_RATE,
            field="voiceover",
            max_duration_s=_decode_limit(voiceover, platform, trim_pauses_over_s),
        )
        prepared = _decoded_voice(
            samples, Path(voiceover), target, trim_pauses_over_s=trim_pauses_over_s,
            grid_s=1.0 / (frame_rate or 100),
        )  # fmt: skip
    else:
        raise InputError("give either a voiceover file or a script", field="voiceover")
    _check_length(prepared.duration_s, platform, field="voiceover" if voiceover else "script")
    if prepared.duration_s < 0.5:
        raise InputError("the voice is shorter than half a second", field="voiceover")
    return prepared


def _check_length(duration_s: float, platform: str, *, field: str) -> None:
    limit = PLATFORM_PRESETS[platform].max_duration_s
    if duration_s > limit:
        raise InputError(
            f"{duration_s:.1f} s is longer than {platform}'s {limit:.0f} s limit", field=field
        )


def _decode_limit(voiceover: Path, platform: str, trim_pauses_over_s: float | None):
    """How much of an uploaded voice to decode (None: all of it), after checking its length.

    The probe's duration is checked first, so an over-long upload fails before a sample is
    decoded; and since a container can understate its length, decoding stops a second past the
    limit whatever it claims (the decoded length is checked again). With pause trimming the
    limit applies to the trimmed voice, which only decoding the whole upload can tell.
    """
    if trim_pauses_over_s is not None:
        return None
    _check_length(probe(voiceover, field="voiceover").duration_s, platform, field="voiceover")
    return PLATFORM_PRESETS[platform].max_duration_s + 1.0


def _decoded_voice(
    samples, source: Path, target: Path, *, trim_pauses_over_s: float | None, grid_s: float
) -> PreparedVoice:
    if trim_pauses_over_s is None:
        audio.write_wav(target, samples, VOICE_RATE)
        return PreparedVoice(target, audio.duration_s(samples, VOICE_RATE), source=source)
    cuts = plan_pause_cuts(samples, VOICE_RATE, max_pause_s=trim_pauses_over_s, grid_s=grid_s)
    untrimmed = audio.write_wav(target.with_name("voice-untrimmed.wav"), samples, VOICE_RATE)
    trimmed = apply_cuts(samples, VOICE_RATE, cuts)
    audio.write_wav(target, trimmed, VOICE_RATE)
    return PreparedVoice(
        target,
        audio.duration_s(trimmed, VOICE_RATE),
        source=source,
        cuts=cuts,
        untrimmed=untrimmed,
    )


@step("align-words")
def align_words(
    *,
    voice: PreparedVoice,
    transcript: str,
    known: WordTimingsSpec | None = None,
    language: str | None = None,
) -> WordTimings:
    """Word timings: known ones (hand-corrected), the synthesiser's own for scripts, or forced
    alignment for uploaded voices.

    The aligner reads the original upload (it can repair byte-slipped PCM that a resample
    would smear) and falls back to speech-activity estimates only where alignment fails.
    """
    if not tokenize(transcript):
        raise InputError("has no words", field="transcript")
    # Timings are on the voice's own timeline (before pause trimming): the project stores them
    # there, so corrections and later renders with another trim limit stay valid.
    length_s = voice.source_duration_s
    if known is not None:
        if known.words[-1].end > length_s + 0.05:
            raise InputError(
                f"the last word ends at {known.words[-1].end:.2f} s, after the voice "
                f"({length_s:.2f} s)",
                field="word_timings",
            )
        words = tuple(
            WordTiming(w.word, w.start, min(w.end, length_s), w.confidence) for w in known.words
        )
        return WordTimings(words, known.method, {"source": "given"})
    if voice.synthesized is not None:
        return voice.synthesized
    source = voice.source if voice.source and voice.source.is_file() else None
    source = source or voice.untrimmed or voice.path
    # In a child process: the decoder holds the GIL and would stall the steps beside it.
    return call_in_child(align_file, source, transcript, language=language)


@step("analyze-voice")
def analyze_voice(*, voice: PreparedVoice, transcript: str) -> voice_analysis.VoiceAnalysis:
    """Speech activity, speaking rate and energy of the voice."""
    rate = voice_analysis.ANALYSIS_RATE
    samples = audio.load_audio(voice.path, sample_rate=rate)
    return voice_analysis.analyze_voice(samples, rate, word_count=len(tokenize(transcript)))


@step("record-timings", cached=False, retries=0)
def record_timings(
    *, words: WordTimings, duration_s: float, user_id: str, project_id: str, settings
) -> bool:
    """Keep the project's latest word timings, for viewing and correcting (best effort)."""
    import logging

    from reelflow.store import Store

    try:
        with Store(settings) as store:
            saved = store.set_word_timings(user_id, project_id, words, duration_s=duration_s)
            return saved is not None
    except Exception as exc:  # a store outage must not fail a finished reel
        logging.getLogger(__name__).warning("could not record word timings: %s", exc)
        return False
