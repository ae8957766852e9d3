"""How a number written in digits is said: Japanese kana readings and English syllable counts.

Whisper writes amounts, dates and phone numbers in digits; a tokenizer reads those digit by digit (SudachiPy gives
5000 the reading ゴレイレイレイ, seven morae, where a speaker says ゴセン, three), and an English word counter sees no
syllables in "$35" at all. The vocabulary corrector compares readings of numbers, and the speaking-rate rules count
what was said, so both read numbers as people say them: a value (5,000 円, 1100, 3.5) by its place words (万, 億;
"thousand"), an identifier (a leading 0, five or more digits with no grouping commas and no counter after them:
phone, order and card numbers) digit by digit.
"""

from __future__ import annotations

import re

ONES = ("", "いち", "に", "さん", "よん", "ご", "ろく", "なな", "はち", "きゅう")
DIGIT_ALTS: dict[str, tuple[str, ...]] = {
    "0": ("ぜろ", "れい", "まる"), "1": ("いち", "わん"), "2": ("に", "つー", "ふた"), "3": ("さん", "すりー"),
    "4": ("よん", "し", "ふぉー"), "5": ("ご", "ふぁいぶ"), "6": ("ろく", "しっくす"), "7": ("なな", "しち", "せぶん"),
    "8": ("はち", "えいと"), "9": ("きゅう", "く", "ないん"),
}
TENS = {1: "じゅう", 2: "にじゅう", 3: "さんじゅう", 4: "よんじゅう", 5: "ごじゅう", 6: "ろくじゅう",
        7: "ななじゅう", 8: "はちじゅう", 9: "きゅうじゅう"}
HUNDREDS = {1: "ひゃく", 2: "にひゃく", 3: "さんびゃく", 4: "よんひゃく", 5: "ごひゃく", 6: "ろっぴゃく",
            7: "ななひゃく", 8: "はっぴゃく", 9: "きゅうひゃく"}
THOUSANDS = {1: "せん", 2: "にせん", 3: "さんぜん", 4: "よんせん", 5: "ごせん", 6: "ろくせん", 7: "ななせん",
             8: "はっせん", 9: "きゅうせん"}
_MYRIADS = ("", "まん", "おく", "ちょう")  # every four digits: 万, 億, 兆
_ID_MIN_DIGITS = 5  # ungrouped digit runs this long with no counter after them are identifiers, read digit by digit

_EN_ONES = (0, 1, 1, 1, 1, 1, 1, 2, 1, 1)  # zero is handled apart; one two three four five six se-ven eight nine
_EN_TEENS = (1, 3, 1, 2, 2, 2, 2, 3, 2, 2)  # ten e-le-ven twelve thir-teen … se-ven-teen eigh-teen nine-teen
_EN_TENS = (0, 0, 2, 2, 2, 2, 2, 3, 2, 2)  # twen-ty thir-ty … se-ven-ty eigh-ty nine-ty
_EN_SCALES = (0, 2, 2, 2, 2)  # thou-sand, mil-lion, bil-lion, tril-lion
_EN_DIGIT = (2, 1, 1, 1, 1, 1, 1, 2, 1, 1)  # ze-ro (or "oh", one) one two … se-ven …
_NUMBER = re.compile(r"^[0-9０-９][0-9０-９,，]*(?:[.．][0-9０-９]+)?$|^[0-9０-９]+(?:-[0-9０-９]+)+$")


def _ascii(text: str) -> str:
    return text.translate(str.maketrans("０１２３４５６７８９，．", "0123456789,."))


def is_identifier(token: str, *, counter_follows: bool = False) -> bool:
    """A digit run read digit by digit: a leading zero (090…, 0120…), hyphenated groups, or long, ungrouped and not
    a quantity."""
    digits = _ascii(token)
    if "-" in digits:
        return True
    if "," in digits or "." in digits:
        return False
    return (len(digits) > 1 and digits.startswith("0")) or (len(digits) >= _ID_MIN_DIGITS and not counter_follows)


def _group_ja(n: int) -> str:
    return THOUSANDS.get(n // 1000, "") + HUNDREDS.get(n // 100 % 10, "") + TENS.get(n // 10 % 10, "") + ONES[n % 10]


def reading_ja(token: str, *, counter_follows: bool = False, digit_by_digit: bool = False) -> str:
    """Hiragana reading of a number in digits (``5,000`` → ごせん, ``090`` → ぜろきゅうぜろ, ``2.5`` → にてんご);
    empty for anything else. Sound changes at the group joins (いっせんまん) are left out: morae stay the same."""
    text = _ascii(token)
    if not _NUMBER.match(text):
        return ""
    if digit_by_digit or is_identifier(text, counter_follows=counter_follows):
        return "".join(DIGIT_ALTS[d][0] for d in text if d.isdigit())
    whole, _, fraction = text.replace(",", "").partition(".")
    whole = whole.lstrip("0")
    spoken = "" if whole else "ぜろ"
    groups = [int(whole[max(0, i - 4):i]) for i in range(len(whole), 0, -4)]
    if len(groups) > len(_MYRIADS):
        return "".join(DIGIT_ALTS[d][0] for d in whole)
    for scale, group in reversed(list(enumerate(groups))):
        if group:
            spoken += _group_ja(group) + _MYRIADS[scale]
    if fraction:
        spoken += "てん" + "".join(DIGIT_ALTS[d][0] for d in fraction)
    return spoken


def _group_en(n: int) -> int:
    count = 0
    if n >= 100:
        count += _EN_ONES[n // 100] + 2  # "hun-dred"
        n %= 100
    if 10 <= n < 20:
        return count + _EN_TEENS[n - 10]
    return count + _EN_TENS[n // 10] + _EN_ONES[n % 10]


def syllables_en(token: str, *, counter_follows: bool = False, digit_by_digit: bool = False) -> int:
    """Syllables of a number in digits said in English (``35`` → 3, ``1,200`` → 4, ``7741902`` digit by digit);
    0 for anything else."""
    text = _ascii(token)
    if not _NUMBER.match(text):
        return 0
    if digit_by_digit or is_identifier(text, counter_follows=counter_follows):
        return sum(_EN_DIGIT[int(d)] for d in text if d.isdigit())
    whole, _, fraction = text.replace(",", "").partition(".")
    value = int(whole or "0")
    count = 2 if value == 0 else 0
    scale = 0
    while value:
        value, group = divmod(value, 1000)
        if group:
            count += _group_en(group) + (_EN_SCALES[scale] if scale < len(_EN_SCALES) else 2)
        scale += 1
    if fraction:
        count += 1 + sum(_EN_DIGIT[int(d)] for d in fraction)  # "point" …
    return count
