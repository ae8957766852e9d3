"""asr/numerals.py: thousands Whisper wrote with 、 are joined; lists and phone-like groups are not."""

from __future__ import annotations

import pytest

from asr.base import Utterance
from asr.numerals import apply, join_thousands, rejoin_split
from summarize.numbers import number_values


@pytest.mark.parametrize(("heard", "shown"), [
    ("お二人とも毎月1、100円引きです。", "お二人とも毎月1,100円引きです。"),  # a dev call as ASR heard it
    ("ゲーム会社から、4、980円の請求が来てるんですよ。", "ゲーム会社から、4,980円の請求が来てるんですよ。"),
    ("合計で1、234、567円です", "合計で1,234,567円です"),
    ("3、220ポイントございます", "3,220ポイントございます"),
    ("048、221、773です。", "048、221、773です。"),  # a phone number: no counter after it
    ("1、2、3と順番に", "1、2、3と順番に"),  # a list
    ("1、2、300円ずつ", "1、2、300円ずつ"),  # a list: not the tail of it either
    ("12,400円で", "12,400円で"),
    ("5月、300円のお返しです", "5月、300円のお返しです"),  # 5月 is no digit group
])
def test_join_thousands(heard: str, shown: str) -> None:
    assert join_thousands(heard) == shown
    assert len(join_thousands(heard)) == len(heard)  # the decode's pieces stay aligned


def test_finals_are_joined_and_the_notes_read_one_amount() -> None:
    final = Utterance("c", "agent", "agent-1", "毎月1、100円引きです。", True, 0.0, 2.0, "ja")
    fixed = apply(final)
    assert fixed.text == "毎月1,100円引きです。" and number_values(fixed.text, "ja") == {"1100"}
    assert number_values(final.text, "ja") == {"1", "100"}
    partial = Utterance("c", "agent", "agent-1", "毎月1、100円", False, 0.0, 1.0, "ja")
    english = Utterance("c", "agent", "agent-2", "It is 1、100 yen", True, 0.0, 1.0, "en")
    assert apply(partial) is partial and apply(english) is english


@pytest.mark.parametrize(("before", "after", "joined"), [
    ("全然知らないネットのゲーム会社から、4、", "980円の請求が来てるんですよ。",
     ("全然知らないネットのゲーム会社から、", "4,980円の請求が来てるんですよ。")),
    ("毎月1、", "100円引きです", ("毎月", "1,100円引きです")),
    ("ゲーム会社から、4", "、980円の請求が", ("ゲーム会社から、", "4,980円の請求が")),  # the 、 went to the second
    ("5月、", "300円です", None),  # a month, not a digit group
    ("番号は090、123、", "456円", None),  # a list of groups, not one cut amount
    ("4、", "98円です", None),  # the second final does not go on with a three-digit group
    ("合計4", "980円", None),  # no pause mark: not read as a cut
    ("4、", "、980円", ("", "4,980円")),
])
def test_rejoin_split(before: str, after: str, joined: tuple[str, str] | None) -> None:
    assert rejoin_split(before, after) == joined
