"""Which synthesiser speaks a spec's `voice`, and what voices are installed.

``piper:<name>`` picks an installed Piper (neural) voice, ``espeak:<language>`` espeak-ng. A
plain language code (``en-us``, the spec's default) is the installed neural voice speaking that
language when there is one (English: joe), else espeak-ng's voice for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from reelflow.engine.errors import InputError
from reelflow.engine.speech import espeak, piper

ENGINES = ("piper", "espeak")


@dataclass(frozen=True)
class VoiceChoice:
    """A synthesiser and the voice it uses."""

    engine: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.engine}:{self.name}"


def resolve(voice: str) -> VoiceChoice:
    """The synthesiser and voice a spec's `voice` names (not checked to be installed)."""
    engine, sep, name = voice.partition(":")
    if sep and engine in ENGINES:
        return VoiceChoice(engine, name)
    if piper.piper_available():
        for neural in piper.installed_voices().values():
            if voice in (neural.language, neural.language.split("-")[0]):
                return VoiceChoice("piper", neural.name)
    return VoiceChoice("espeak", voice)


@dataclass(frozen=True)
class InstalledVoice:
    """One voice `reelflow voices` lists."""

    name: str  # as a spec writes it
    language: str
    kind: str


def installed() -> list[InstalledVoice]:
    """Piper voices from installed wheels first, then every espeak-ng language."""
    voices = []
    if piper.piper_available():
        voices += [
            InstalledVoice(f"piper:{v.name}", v.language, "neural (Piper)")
            for v in piper.installed_voices().values()
        ]
    voices += [
        InstalledVoice(f"espeak:{n}", n, "formant (espeak-ng)") for n in espeak.voice_names()
    ]
    return voices


def check_installed(voice: str) -> VoiceChoice:
    """The synthesiser and voice `voice` names, if it is installed here; else `InputError`
    (field ``voice``) naming what is."""
    choice = resolve(voice)
    if choice.engine == "espeak":
        espeak.resolve_voice(choice.name)  # raises naming the field
        return choice
    neural = piper.installed_voices() if piper.piper_available() else {}
    if choice.name not in neural:
        known = ", ".join(f"piper:{name}" for name in neural) or "none"
        raise InputError(
            f"no Piper voice {choice.name!r} is installed (installed: {known})", field="voice"
        )
    return choice
