"""Kana readings and a mora edit distance: how close two Japanese spellings sound (5成球 / ご請求, 講座 / 口座).

Readings come from SudachiPy (``asr/vocab.py``); digits are read as numbers (1000 → せん) and digit by digit. The
distance weighs the slips Whisper makes: a voicing pair (か/が) or a shared vowel costs less than another mora, and
dropping っ, ん or a long vowel is half a slip.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from common.spoken_numbers import DIGIT_ALTS, HUNDREDS, ONES, TENS, THOUSANDS


def number_readings(digits: str) -> tuple[str, ...]:
    """Kana readings of an ASCII digit string: the number (1000 → せん) and digit by digit (0120 → ぜろいち…)."""
    out: list[str] = []
    if len(digits) == 1:
        out.extend(DIGIT_ALTS[digits])
    elif not digits.startswith("0") and len(digits) <= 4:
        n = int(digits)
        parts = [THOUSANDS.get(n // 1000, ""), HUNDREDS.get(n // 100 % 10, ""), TENS.get(n // 10 % 10, "")]
        out.append("".join(parts) + ONES[n % 10])
    out.append("".join(DIGIT_ALTS[d][0] for d in digits))
    return tuple(dict.fromkeys(out))


def to_hiragana(text: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


_SMALL = set("ゃゅょぁぃぅぇぉゎ")
_VOWELS = {"あ": "a", "い": "i", "う": "u", "え": "e", "お": "o"}
_ROWS = {
    "k": "かきくけこ", "g": "がぎぐげご", "s": "さ_すせそ", "sh": "_し___", "z": "ざ_ずぜぞ", "j": "_じ___",
    "t": "た__てと", "ch": "_ち___", "ts": "__つ__", "d": "だぢづでど", "n": "なにぬねの", "h": "はひ_へほ",
    "f": "__ふ__", "b": "ばびぶべぼ", "p": "ぱぴぷぺぽ", "m": "まみむめも", "y": "や_ゆ_よ", "r": "らりるれろ",
    "w": "わ___を", "v": "__ゔ__",
}
_KANA: dict[str, tuple[str, str]] = {k: ("", v) for k, v in _VOWELS.items()}
for _c, _row in _ROWS.items():
    for _kana, _v in zip(_row, "aiueo", strict=True):
        if _kana != "_":
            _KANA[_kana] = (_c, _v)
_KANA.update({"ん": ("N", ""), "っ": ("Q", "")})
_SMALL_VOWEL = {"ゃ": "a", "ゅ": "u", "ょ": "o", "ぁ": "a", "ぃ": "i", "ぅ": "u", "ぇ": "e", "ぉ": "o", "ゎ": "a"}
_VOICING = {frozenset(p) for p in (("k", "g"), ("s", "z"), ("sh", "j"), ("t", "d"), ("ch", "j"), ("ts", "z"),
                                    ("h", "b"), ("h", "p"), ("b", "p"), ("f", "b"), ("f", "p"), ("ky", "gy"),
                                    ("hy", "by"), ("hy", "py"), ("by", "py"), ("sh", "s"), ("ch", "t"))}

Mora = tuple[str, str]


def morae(reading: str) -> tuple[Mora, ...]:
    """Kana → (consonant, vowel) units; long vowels (ー, おう, えい) become a plain vowel unit."""
    units: list[Mora] = []
    for ch in to_hiragana(unicodedata.normalize("NFKC", reading)):
        if ch in _SMALL and units and units[-1][1]:
            cons, _ = units[-1]
            base = cons if cons in ("sh", "ch", "j", "f", "ts") else (cons + "y" if cons and cons != "y" else "y")
            units[-1] = (base if ch in "ゃゅょ" else cons, _SMALL_VOWEL[ch])
        elif ch == "ー" and units and units[-1][1]:
            units.append(("", units[-1][1]))
        elif ch in _KANA:
            cons, vowel = _KANA[ch]
            prev = units[-1][1] if units else ""
            if cons == "" and ((vowel == "u" and prev == "o") or (vowel == "i" and prev == "e")):
                vowel = prev  # こう = こお, せい = せえ: how they are pronounced
            units.append((cons, vowel))
    return tuple(units)


def _sub_cost(a: Mora, b: Mora) -> float:
    if a == b:
        return 0.0
    if a[1] and a[1] == b[1]:
        return 0.35 if frozenset((a[0], b[0])) in _VOICING else 0.6
    if a[0] == b[0] and a[1] and b[1]:  # same consonant (or both plain vowels: かい / かえ)
        return 0.6
    return 1.0


def _indel_cost(u: Mora, prev: Mora | None) -> float:
    """Dropping っ, ん or a long vowel is a small slip; any other mora is a full one."""
    if u[0] in ("Q", "N") or (u[0] == "" and prev is not None and prev[1] == u[1]):
        return 0.5
    return 1.0


def distance(a: Sequence[Mora], b: Sequence[Mora]) -> float:
    """Weighted mora edit distance divided by the longer length (0 = same reading)."""
    if not a or not b:
        return 1.0
    prev_row = [0.0]
    for j in range(1, len(b) + 1):
        prev_row.append(prev_row[-1] + _indel_cost(b[j - 1], b[j - 2] if j > 1 else None))
    for i in range(1, len(a) + 1):
        row = [prev_row[0] + _indel_cost(a[i - 1], a[i - 2] if i > 1 else None)]
        for j in range(1, len(b) + 1):
            row.append(min(prev_row[j] + _indel_cost(a[i - 1], a[i - 2] if i > 1 else None),
                           row[j - 1] + _indel_cost(b[j - 1], b[j - 2] if j > 1 else None),
                           prev_row[j - 1] + _sub_cost(a[i - 1], b[j - 1])))
        prev_row = row
    return prev_row[-1] / max(len(a), len(b))
