"""The fact check: numbers compared as values whatever their spelling; promises never listed as done."""

from __future__ import annotations

import pytest

from summarize.base import Turn
from summarize.factcheck import fact_check
from summarize.notes import CallNotes, Entity, NoteLine
from summarize.numbers import canonical_text, number_values
from summarize.text import aspect, is_future

TURNS = [
    Turn(0, "customer", "えっと、今月の請求が三万二千円になってて、おかしいと思うんですけど。"),
    Turn(1, "agent", "確認いたします。10月15日のご利用で、３２，０００円でございます。"),
    Turn(2, "agent", "調査のうえ、3営業日以内に折り返しご連絡いたします。"),
]


@pytest.mark.parametrize("spelling", ["三万二千円", "32,000円", "3万2千円", "３２，０００円", "32000円"])
def test_number_spellings_are_one_value(spelling: str) -> None:
    assert number_values(spelling, "ja") == {"32000"}


def test_english_numbers() -> None:
    assert number_values("a refund of thirty-two thousand dollars, or $32,000.00", "en") == {"32000"}
    assert number_values("call 090-1234", "en") == {"090", "1234"}


def test_canonical_text_matches_across_spellings() -> None:
    assert canonical_text("３万２千円", "ja") in canonical_text("ご請求は三万二千円です", "ja")


def _notes(**kw: object) -> CallNotes:
    return CallNotes(language="ja", **kw)  # type: ignore[arg-type]


def test_grounded_numbers_pass() -> None:
    notes = _notes(inquiry=[NoteLine(text="請求額32,000円（3万2千円）に心当たりなし", turns=[0])],
                   follow_ups=[NoteLine(text="3営業日以内に折り返し", turns=[2])])
    checked, report = fact_check(notes, TURNS)
    assert report.passed and checked.flags == []
    assert not any(line.flagged for line in [*checked.inquiry, *checked.follow_ups])


def test_invented_number_is_flagged_never_shown_as_fact() -> None:
    notes = _notes(follow_ups=[NoteLine(text="5営業日以内に折り返し", turns=[2])],
                   entities=[Entity(kind="amount", text="45,000円", value="45000", turns=[1])])
    checked, report = fact_check(notes, TURNS)
    assert not report.passed and report.invented == ["5", "45000"]
    assert checked.follow_ups[0].flagged
    assert checked.entities == []
    assert any("5" in f for f in checked.flags)
    assert not notes.follow_ups[0].flagged, "the input notes are not modified"


def test_promise_in_actions_moves_to_follow_ups() -> None:
    notes = _notes(actions=[NoteLine(text="カードの利用を停止しました", turns=[1]),
                            NoteLine(text="新しいカードをお送りいたします", turns=[2]),
                            NoteLine(text="調査結果を折り返し連絡予定", turns=[2])])
    checked, report = fact_check(notes, TURNS)
    assert [a.text for a in checked.actions] == ["カードの利用を停止しました"]
    assert [f.text for f in checked.follow_ups] == ["新しいカードをお送りいたします", "調査結果を折り返し連絡予定"]
    assert len(report.moved) == 2 and report.passed


def test_english_promise_moves() -> None:
    notes = CallNotes(language="en", actions=[NoteLine(text="I've cancelled the order.", turns=[0]),
                                              NoteLine(text="We will send a refund.", turns=[0])])
    checked, _ = fact_check(notes, [Turn(0, "agent", "I've cancelled the order. We will send a refund.")])
    assert [a.text for a in checked.actions] == ["I've cancelled the order."]
    assert [f.text for f in checked.follow_ups] == ["We will send a refund."]


def test_lines_must_link_to_real_turns() -> None:
    notes = _notes(actions=[NoteLine(text="停止しました", turns=[7])])
    checked, report = fact_check(notes, TURNS)
    assert checked.actions[0].flagged and checked.actions[0].turns == [] and not report.passed


@pytest.mark.parametrize(("sentence", "expected"), [
    ("カードの利用を停止いたしました。", "done"),
    ("再発行の手続きを完了しました。", "done"),
    ("新しいカードをお送りいたします。", "promise"),
    ("担当部署から折り返しご連絡いたします。", "promise"),
    ("1週間ほどでお届けする予定です。", "promise"),
    ("お名前をお願いいたします。", "request"),
    ("ご住所はお変わりないでしょうか。", "question"),
    ("かしこまりました。", "other"),
    ("ご不便をおかけしております。", "other"),
])
def test_japanese_aspect(sentence: str, expected: str) -> None:
    assert aspect(sentence, "ja") == expected


def test_is_future() -> None:
    assert is_future("停止しました。新しいカードをお送りします。", "ja")
    assert not is_future("停止しました。", "ja")
    assert is_future("we'll mail the replacement", "en") and not is_future("I've mailed it", "en")
