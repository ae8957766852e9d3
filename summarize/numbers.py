"""Numbers as values, whatever their spelling, so notes and transcripts can be compared.

三万二千円, 32,000円, 3万2千円 and ３２，０００円 all read as 32000: Japanese through SudachiPy's numeral
normalization (its ``normalized_form`` of 数詞 tokens), English through digits and number words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from common.text_ja import tokenize


@dataclass(frozen=True, slots=True)
class NumberMention:
    """A number in a text: ``value`` is canonical (``32000``, ``090``, ``1.5``); ``unit`` the counter
    or word after it (``円``, ``月``, ``days``), empty when none."""

    text: str
    value: str
    start: int
    end: int
    unit: str = ""


_NUMERIC = re.compile(r"^\d+(?:\.\d+)?$")


def canonical_value(raw: str) -> str | None:
    """``32,000`` → ``32000``; ``090`` stays (leading zeros matter in phone numbers); ``1.50`` → ``1.5``."""
    s = unicodedata.normalize("NFKC", raw).replace(",", "")
    if not _NUMERIC.match(s):
        return None
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if len(s) > 1 and s.startswith("0") and "." not in s:
        return s
    return str(int(s)) if "." not in s else s


def number_mentions(text: str, language: str) -> list[NumberMention]:
    return _ja_mentions(text) if language == "ja" else _en_mentions(text)


def number_values(text: str, language: str) -> set[str]:
    return {m.value for m in number_mentions(text, language)}


def _ja_mentions(text: str) -> list[NumberMention]:
    morphs = list(tokenize(text))
    out: list[NumberMention] = []
    for i, m in enumerate(morphs):
        if m.part_of_speech()[1] != "数詞":
            continue
        value = canonical_value(m.normalized_form())
        if value is None:
            continue
        unit = morphs[i + 1].surface() if i + 1 < len(morphs) else ""
        out.append(NumberMention(m.surface(), value, m.begin(), m.end(), unit))
    return out


_EN_UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
             "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
             "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
             "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_EN_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_EN_WORD = "|".join(sorted([*_EN_UNITS, *_EN_SCALES], key=len, reverse=True))
_EN_NUMBER = re.compile(
    rf"(?<![\w.])(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?(?![\d])"
    rf"|\b(?:{_EN_WORD})(?:[\s-]+(?:and[\s-]+)?(?:{_EN_WORD}))*\b",
    re.IGNORECASE,
)
_EN_UNIT_AFTER = re.compile(r"\s*([A-Za-z%$]+)")


def _en_words_value(words: str) -> int | None:
    total, current = 0, 0
    for w in re.split(r"[\s-]+", words.lower()):
        if w == "and":
            continue
        if w in _EN_UNITS:
            current += _EN_UNITS[w]
        elif w == "hundred":
            current = max(current, 1) * 100
        elif w in _EN_SCALES:
            total += max(current, 1) * _EN_SCALES[w]
            current = 0
        else:
            return None
    return total + current


def _en_mentions(text: str) -> list[NumberMention]:
    nfkc = unicodedata.normalize("NFKC", text)
    norm = nfkc if len(nfkc) == len(text) else text  # keep offsets valid for the caller
    out: list[NumberMention] = []
    for m in _EN_NUMBER.finditer(norm):
        raw = m.group(0)
        if raw[0].isdigit():
            value = canonical_value(raw)
        else:
            v = _en_words_value(raw)
            value = None if v is None else str(v)
        if value is None:
            continue
        unit_m = _EN_UNIT_AFTER.match(norm, m.end())
        unit = unit_m.group(1).lower() if unit_m else ""
        out.append(NumberMention(text[m.start():m.end()], value, m.start(), m.end(), unit))
    return out


_SPACE_PUNCT = re.compile(r"[\s、。，．,.!?！？「」『』()（）・:：;；\"'“”‘’-]+")


def canonical_text(text: str, language: str) -> str:
    """Text for fuzzy containment checks: NFKC, lower case, numbers as values, no spaces or punctuation."""
    parts: list[str] = []
    pos = 0
    for m in number_mentions(text, language):
        parts.append(text[pos:m.start])
        parts.append(f"#{m.value}#")
        pos = m.end
    parts.append(text[pos:])
    joined = unicodedata.normalize("NFKC", "".join(parts)).lower()
    return _SPACE_PUNCT.sub("", joined)
