"""Words where the writing has no spaces: Chinese, Japanese and Thai.

A Chinese sentence is one whitespace "piece", which would make it one caption word, one timing
and one unbreakable line. Each segmenter below ships its dictionary in its wheel (nothing is
downloaded): rjieba (jieba's dictionary, Chinese), janome (IPADIC, Japanese) and pythainlp
(its newmm dictionary, Thai). They are imported only when a transcript needs them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_THAI = re.compile(r"[\u0e00-\u0e7f]")
_JAPANESE_ATTACHED = ("助詞", "助動詞", "記号")  # particle, auxiliary verb, symbol


def needs_segmenting(piece: str) -> bool:
    """Whether `piece` holds writing that runs words together (Han, kana or Thai)."""
    return bool(_HAN.search(piece) or _KANA.search(piece) or _THAI.search(piece))


def segment(piece: str) -> list[str]:
    """Split one whitespace-free `piece` into words; other writing comes back whole.

    Kana means Japanese (Han alone is read as Chinese); Thai runs go to the Thai segmenter.
    Punctuation comes back as its own pieces, which tokenization glues to a neighbour.
    """
    if not needs_segmenting(piece):
        return [piece]
    if _THAI.search(piece) and not _HAN.search(piece):
        cut = _thai()
    elif _KANA.search(piece):
        cut = _japanese()
    else:
        cut = _chinese()
    return [w for w in (w.strip() for w in cut(piece)) if w]


@functools.cache
def _chinese() -> Callable[[str], list[str]]:
    import rjieba

    return rjieba.cut


@functools.cache
def _japanese() -> Callable[[str], list[str]]:
    from janome.tokenizer import Tokenizer

    tokenizer = Tokenizer()  # loads the bundled IPADIC once (~1 s)

    def cut(text: str) -> list[str]:
        # Particles and auxiliaries (は, です, ね) join the word before them, as in bunsetsu:
        # a caption word per morpheme would flash by and could start a line with "は".
        words: list[str] = []
        for token in tokenizer.tokenize(text):
            pos = token.part_of_speech.split(",")[0]
            if words and pos in _JAPANESE_ATTACHED:
                words[-1] += token.surface
            else:
                words.append(token.surface)
        return words

    return cut


@functools.cache
def _thai() -> Callable[[str], list[str]]:
    from pythainlp.tokenize import word_tokenize

    return lambda text: word_tokenize(text, engine="newmm", keep_whitespace=False)
