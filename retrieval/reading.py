"""Reading-based normalisation for the lexical signals: text → katakana reading (SudachiPy ``reading_form``).

Callers and ASR write the same word in kanji, hiragana or katakana (財布/さいふ/サイフ, 検針票/けんしんひょう) and
ASR swaps homophones (請求額→成球学, 返品→変頻); surface characters then share nothing, but readings do. Both
the query and the KB text go through the same pass, so the reading bigrams of 「サイフ」 meet those of 「財布」.
Long-vowel marks are folded into the vowel they stand for (ケータイ/ケイタイ, テーデン/テイデン).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from common.text_ja import char_bigrams, tokenize
from retrieval.text import _EN_STOP

# Function words carry no topic but many shared bigrams (どこで見られますか matches every "where can I see"
# article): particles, pronouns, fillers, conjunctions, the common auxiliaries and the light verbs go. Only
# auxiliaries on the list are dropped, because SudachiPy misreads pieces of kana-only words as auxiliaries
# (ばいでん → ばい + でん).
_SKIP_POS = {"補助記号", "空白", "助詞", "感動詞", "代名詞", "接続詞"}
_SKIP_AUX = {"た", "だ", "です", "でし", "ます", "まし", "ませ", "ない", "なかっ", "たい", "たかっ", "れる", "れ",
             "られる", "られ", "せる", "させ", "う", "よう", "ん", "ず", "ぬ", "なら", "たら", "で", "に", "な", "じゃ", "ちゃ"}
_SKIP_VERBS = {"為る", "居る", "有る", "成る", "出来る", "仕舞う", "下さる", "頂く", "致す", "貰う", "呉れる", "言う",
               "思う", "ちゃう"}
_HIRAGANA_TO_KATAKANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}
# The vowel a long-vowel mark repeats; e- and o-row kana lengthen as イ and ウ in Sino-Japanese readings
# (ケイ, コウ), which is how SudachiPy spells them, so ー after them becomes イ/ウ.
_ROWS = {
    "ア": "アカサタナハマヤラワガザダバパァャヮ",
    "イ": "イキシチニヒミリギジヂビピィエケセテネヘメレゲゼデベペェ",
    "ウ": "ウクスツヌフムユルグズヅブプゥュヴオコソトノホモヨロヲゴゾドボポォョ",
}
_LONG = {kana: vowel for vowel, kanas in _ROWS.items() for kana in kanas}


def _is_katakana(text: str) -> bool:
    return bool(text) and all("\u30a0" <= c <= "\u30ff" for c in text)


def fold_long_vowels(kana: str) -> str:
    out: list[str] = []
    for c in kana:
        out.append(_LONG.get(out[-1], c) if c == "ー" and out else c)
    return "".join(out)


def to_reading(text: str) -> str:
    """Katakana reading of every content word, words separated by spaces; Latin words without a katakana
    reading stay lowercase surface."""
    text = unicodedata.normalize("NFKC", text)[:4000]
    words = []
    for m in tokenize(text):
        pos = m.part_of_speech()[0]
        surface = m.surface()
        if (pos in _SKIP_POS or (pos == "助動詞" and surface in _SKIP_AUX)
                or (pos == "動詞" and m.normalized_form() in _SKIP_VERBS) or surface.lower() in _EN_STOP):
            continue
        reading = m.reading_form()
        if not _is_katakana(reading):
            reading = surface.translate(_HIRAGANA_TO_KATAKANA)
            if reading.isascii():
                reading = reading.lower()
        words.append(fold_long_vowels(reading))
    return " ".join(w for w in words if w.strip())


@lru_cache(maxsize=16384)
def reading_bigram_set(text: str) -> frozenset[str]:
    """Memoized: KB titles and questions are read again for every query that ranks them."""
    return frozenset(reading_bigrams(text))


def reading_bigrams(text: str) -> list[str]:
    """Character bigrams of the reading (the lexical ``reading`` signal's tokenizer)."""
    return char_bigrams(to_reading(text))
