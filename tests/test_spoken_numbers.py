"""Numbers in digits are counted and read as people say them (speaking rate, vocabulary readings)."""

from __future__ import annotations

import pytest

from assist.alerts.measure import morae
from common.spoken_numbers import is_identifier, reading_ja, syllables_en


@pytest.mark.parametrize(("digits", "reading"), [
    ("5,000", "ごせん"), ("5000", "ごせん"), ("1100", "せんひゃく"), ("3,850", "さんぜんはっぴゃくごじゅう"),
    ("100000", "いちぜろぜろぜろぜろぜろ"), ("0", "ぜろ"), ("2.5", "にてんご"), ("１２", "じゅうに"),
    ("090", "ぜろきゅうぜろ"), ("30517724", "さんぜろごいちななななによん"), ("03-1234", "ぜろさんいちにさんよん"),
])
def test_japanese_readings(digits: str, reading: str) -> None:
    assert reading_ja(digits) == reading


def test_values_with_a_counter_use_place_words() -> None:
    assert reading_ja("100000", counter_follows=True) == "じゅうまん"
    assert reading_ja("123456789", counter_follows=True) == "いちおくにせんさんびゃくよんじゅうごまんろくせんななひゃくはちじゅうきゅう"
    assert reading_ja("abc") == ""
    assert is_identifier("0120") and is_identifier("7741902") and not is_identifier("7741902", counter_follows=True)
    assert not is_identifier("1,100") and not is_identifier("2024")


@pytest.mark.parametrize(("digits", "count"), [
    ("35", 3), ("7", 2), ("11", 3), ("100", 3), ("1,200", 6), ("0", 2), ("2.5", 3), ("7741902", 10), ("x", 0),
])
def test_english_syllables(digits: str, count: int) -> None:
    assert syllables_en(digits) == count


def test_speaking_rate_counts_digits_as_said() -> None:
    assert morae("5,000円") == morae("五千円") == morae("ごせんえん")
    assert morae("3,850円") == morae("三千八百五十円")
    phone = len("ゼロキューゼロイチニサンヨンゴロクナナハチ") - 1  # キュー: two morae, three characters
    assert morae("電話は090-1234-5678") - morae("電話は") == phone
    assert morae("090-1234-5678") == 14, "text in ASCII only is English: ze-ro nine ze-ro one … se-ven eight"
    assert morae("It costs $35 a month") == morae("It costs thirty five a month")
    assert morae("order 7741902") > morae("order")
