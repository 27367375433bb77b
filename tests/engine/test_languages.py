"""The voice and language a transcript gets: from `language`, else from its writing."""

from __future__ import annotations

import pytest

from reelflow.engine.speech.languages import detect_language, voice_for
from reelflow.engine.speech.tts import synthesize
from reelflow.models import ReelSpec


@pytest.mark.parametrize(
    ("text", "language", "voice"),
    [
        ("我们今天学习中文", None, "cmn"),
        ("今日はいい天気ですね", None, "ja"),  # kanji with kana: Japanese
        ("오늘은 날씨가 좋네요", None, "ko"),
        ("नमस्ते दुनिया", None, "hi"),
        ("আমার সোনার বাংলা", None, "bn"),
        ("வணக்கம் உலகம்", None, "ta"),
        ("สวัสดีครับ", None, "th"),
        ("مرحبا بالعالم", None, "ar"),
        ("Привет мир", None, "ru"),
        ("Hello world", None, "en-us"),
        ("Hola mundo", "es", "es"),
        ("Olá mundo", "pt-BR", "pt-br"),
        ("學習中文", "zh-TW", "cmn"),
    ],
)
def test_the_voice_follows_the_language_or_the_writing(text, language, voice):
    assert voice_for(text, language=language) == voice
    spec = ReelSpec(script=text, language=language)
    assert spec.speech_voice == voice
    assert ReelSpec(script=text, voice="en-gb").speech_voice == "en-gb"  # an explicit voice wins


def test_mixed_writing_goes_by_the_most_letters():
    assert detect_language("Breaking news: Москва сегодня очень холодно") == "ru"


@pytest.mark.parametrize(
    ("text", "count"), [("我们今天学习中文字幕。", 4), ("สวัสดีครับ วันนี้อากาศดี", 5)]
)
def test_a_script_in_another_language_is_timed_word_by_word(text, count):
    spec = ReelSpec(script=text)
    words = synthesize(text, voice=spec.speech_voice).words
    assert len(words) == count and words.details["interpolated"] == 0
    starts = [w.start_s for w in words.words]
    assert starts == sorted(starts) and len(set(starts)) == count
