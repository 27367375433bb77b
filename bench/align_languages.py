"""Multilingual alignment corpus for `bench/align.py --languages`.

Each sentence (with numbers and names) is spoken by espeak-ng in its language with two voice
variants and rates unlike the aligner's own synthesis (the default variant at 150 wpm); the
speaking voice's word events are the truth. Each utterance is timed twice in the same run: by
`align(..., language=...)` (synthesis + DTW) and by the speech-activity estimate it replaces.
"""

from __future__ import annotations

import time

import numpy as np
import soxr

from reelflow.engine.alignment.align import align
from reelflow.engine.alignment.estimate import estimate_timings
from reelflow.engine.speech.languages import voice_for
from reelflow.engine.speech.tts import synthesize
from reelflow.engine.text import tokenize

CORPUS = {
    "es": [
        "Hola, me llamo Carlos Ramírez y vivo en Madrid desde 2019.",
        "El tren sale a las 7 y llega a Sevilla tres horas después.",
        "María compró 12 naranjas y 4 kilos de patatas en el mercado.",
    ],
    "fr": [
        "Bonjour, je m'appelle Claire Dubois et j'habite à Lyon depuis 12 ans.",
        "Le musée ouvre à 9 heures, mais il y a déjà une longue file.",
        "Pierre a couru 42 kilomètres en moins de trois heures.",
    ],
    "de": [
        "Guten Morgen, mein Name ist Jonas Becker und ich wohne in Hamburg.",
        "Der Zug nach München hat heute 25 Minuten Verspätung.",
        "Anna hat 2022 ihr Studium in Heidelberg abgeschlossen.",
    ],
    "pt": [
        "Olá, o meu nome é João Silva e moro em Lisboa há 7 anos.",
        "O jogo começa às 8 horas no estádio do Maracanã.",
        "Beatriz vendeu 300 livros na feira de São Paulo.",
    ],
    "it": [
        "Ciao, mi chiamo Giulia Rossi e abito a Roma dal 2015.",
        "Il museo di Firenze accoglie ogni anno 2 milioni di visitatori.",
        "Marco ha preparato la pizza per 6 amici sabato sera.",
    ],
    "hi": [
        "नमस्ते, मेरा नाम राहुल शर्मा है और मैं दिल्ली में रहता हूँ।",
        "प्रिया ने 2020 में मुंबई में अपनी पढ़ाई पूरी की।",
        "हमारी ट्रेन सुबह 6 बजे जयपुर के लिए निकलेगी।",
    ],
    "zh": [
        "大家好，我叫王小明，今年二十五岁，住在北京。",
        "李华在2018年去上海工作，现在是一名工程师。",
        "明天早上八点，我们在火车站见面吧。",
    ],
    "ja": [
        "こんにちは、私の名前は田中です。東京に住んでいます。",
        "山本さんは毎朝7時に起きて、公園を散歩します。",
        "来週の金曜日に、大阪で会議があります。",
    ],
}
SPEAKERS = [("+f3", 185), ("+m3", 135)]  # variant and rate of the "user's" voice


def iter_languages():
    """(language, samples at 16 kHz int16, text, truth [(start, end)]) for every utterance."""
    for language, sentences in CORPUS.items():
        voice = voice_for("", language=language)
        for text in sentences:
            for variant, rate in SPEAKERS:
                syn = synthesize(text, voice=voice + variant, rate_wpm=rate)
                pcm = soxr.resample(syn.samples, syn.sample_rate, 16_000)
                pcm = (np.clip(pcm, -1, 1) * 32767).astype(np.int16)
                yield language, pcm, text, [(w.start_s, w.end_s) for w in syn.words.words]


def run_languages() -> list[str]:
    """One row per language: DTW alignment against the speech-activity estimate."""
    rows = [
        "| language | utterances | words | start MAE | within 100 ms | end MAE | estimate: "
        "start MAE | estimate: within 100 ms | without timings | aligner CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    by_language: dict[str, dict[str, list]] = {}
    for language, pcm, text, truth in iter_languages():
        stats = by_language.setdefault(language, {"a": [], "ae": [], "e": [], "n": [], "cpu": []})
        t0 = time.process_time()
        got = align(pcm, 16_000, text, language=language)
        stats["cpu"].append(time.process_time() - t0)
        estimate = estimate_timings(pcm, 16_000, tokenize(text))
        if len(got.words) != len(truth) or got.method != "aligned":
            stats["n"].append(1)
            continue
        for (t0_s, t1_s), w, e in zip(truth, got.words, estimate.words, strict=True):
            stats["a"].append(abs(w.start_s - t0_s) * 1000)
            stats["ae"].append(abs(w.end_s - t1_s) * 1000)
            stats["e"].append(abs(e.start_s - t0_s) * 1000)
    for language, s in by_language.items():
        a, ae, e = np.array(s["a"]), np.array(s["ae"]), np.array(s["e"])
        utterances = len(CORPUS[language]) * len(SPEAKERS)
        rows.append(
            f"| {language} | {utterances} | {a.size} | {a.mean():.1f} ms | "
            f"{np.mean(a <= 100) * 100:.1f}% | {ae.mean():.1f} ms | {e.mean():.1f} ms | "
            f"{np.mean(e <= 100) * 100:.1f}% | {len(s['n'])} | {sum(s['cpu']):.2f} |"
        )
    return rows
