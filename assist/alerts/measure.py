"""Speaking-rate units of an utterance: morae (Japanese; syllables for English) or characters.

Morae come from SudachiPy's katakana reading (キャ is one mora, ッ ン ー are one each), the measure Japanese
speech-rate studies use; an English word counts its vowel groups (a silent final e dropped), the usual syllable
estimate. Characters are what is left after spaces and punctuation go (漢字 and かな alike), the unit of the
「1分間に300文字」 guideline. Rates divide by the utterance's audio span (start → end of its final). Numbers in
digits count as they are said (``common/spoken_numbers.py``: 5,000円 is ゴセンエン, not ゴレイレイレイエン).
"""

from __future__ import annotations

import re
from typing import Literal

from assist.alerts.lexicon import compact_form
from common.spoken_numbers import reading_ja, syllables_en
from common.text_ja import tokenize

RateUnit = Literal["morae", "chars"]

_SMALL_KANA = set("ァィゥェォャュョヮぁぃぅぇぉゃゅょゎ")
_KATAKANA = re.compile(r"^[\u30a0-\u30ff]+$")
_LATIN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
_SKIP_POS = {"補助記号", "空白"}
_EN_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|[0-9]+(?:-[0-9]+)+|[0-9][0-9,]*(?:\.[0-9]+)?(?=(\s*(?:%|percent|dollars?|yen|days?|"
                       r"months?|years?|gb|minutes?|hours?|points?))?)")
_HYPHENS = {"-", "‐", "−", "ー", "―"}


def syllables(word: str) -> int:
    """Estimated syllables of one English word (at least 1)."""
    word = word.lower()
    groups = len(_VOWEL_GROUPS.findall(word))
    if word.endswith("e") and not word.endswith(("le", "ee", "ye")) and groups > 1:
        groups -= 1
    return max(groups, 1)


def _kana_morae(kana: str) -> int:
    return sum(1 for c in kana if c not in _SMALL_KANA)


def morae(text: str) -> int:
    """Morae of Japanese text (its SudachiPy reading) plus syllables of the Latin words in it."""
    if text.isascii():
        return sum(syllables_en(m.group(0), counter_follows=m.group(1) is not None) if m.group(0)[0].isdigit()
                   else syllables(m.group(0)) for m in _EN_TOKEN.finditer(text.lower()))
    count = 0
    tokens = list(tokenize(text[:2000]))
    for i, m in enumerate(tokens):
        if m.part_of_speech()[0] in _SKIP_POS:
            continue
        reading = m.reading_form()
        if m.part_of_speech()[1] == "数詞":
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            before = tokens[i - 1].surface() if i else ""
            counter = after is not None and "助数詞" in after.part_of_speech()[2]
            phone = before in _HYPHENS or (after is not None and after.surface() in _HYPHENS)
            spoken = reading_ja(m.surface(), counter_follows=counter, digit_by_digit=phone)
            if spoken:  # a phone number's groups are read digit by digit
                count += _kana_morae(spoken)
                continue
        if _KATAKANA.match(reading):
            count += _kana_morae(reading)
        else:
            count += sum(syllables(w) for w in _LATIN_WORD.findall(m.surface().lower())) or len(m.surface())
    return count


def characters(text: str) -> int:
    """Characters without spaces and punctuation."""
    return len(compact_form(text))


def units(text: str, unit: RateUnit) -> int:
    return morae(text) if unit == "morae" else characters(text)


def speaking_rate(text: str, duration_s: float, unit: RateUnit = "morae") -> float | None:
    """Units per second over ``duration_s``, or ``None`` for a span too short to measure."""
    if duration_s <= 0:
        return None
    return units(text, unit) / duration_s
