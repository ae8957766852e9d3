"""Yen written as a near-homophone after an amount (asr/vocab.py): 30万年 → 30万円, 500英文 → 500円分."""

from __future__ import annotations

import pytest

from asr.base import Correction
from asr.vocab import VocabCorrector


@pytest.fixture(scope="module")
def vocab() -> VocabCorrector:
    return VocabCorrector(["限度額"])


@pytest.mark.parametrize(
    ("heard", "expected", "corrections"),
    [
        ("現在の限度額は30万年でございます。", "現在の限度額は30万円でございます。", [("万年", "万円", 9)]),
        ("50万年に引き上げ、来月から30万年に戻ります。", "50万円に引き上げ、来月から30万円に戻ります。",
         [("万年", "万円", 2), ("万年", "万円", 16)]),
        ("次回使える500英文のクーポンです。", "次回使える500円分のクーポンです。", [("英文", "円分", 8)]),
        ("手数料は3千年です。", "手数料は3千円です。", [("千年", "千円", 5)]),
        ("１億年の融資", "１億円の融資", [("億年", "億円", 1)]),
    ],
)
def test_yen_heard_as_years_is_respelled_and_the_heard_form_kept(vocab: VocabCorrector, heard: str, expected: str,
                                                                 corrections: list[tuple[str, str, int]]) -> None:
    text, found = vocab.correct(heard)
    assert text == expected
    assert found == tuple(Correction(o, r, at, at + len(r)) for o, r, at in corrections)


@pytest.mark.parametrize(
    "heard",
    ["2024年3月にお申し込みいただきました。", "平成2年5月20日です。", "万年筆を3本注文しました。", "3万年筆",
     "英文の明細書はありますか。", "30万円の限度額です。"],
)
def test_years_and_words_that_are_no_slip_stay(vocab: VocabCorrector, heard: str) -> None:
    assert vocab.correct(heard) == (heard, ())


def test_a_slip_beside_a_term_correction_keeps_both_offsets_right(vocab: VocabCorrector) -> None:
    text, found = vocab.correct("限度学は30万年です。")
    assert text == "限度額は30万円です。"
    assert [(c.original, c.replacement, text[c.start:c.end]) for c in found] == [
        ("限度学", "限度額", "限度額"), ("万年", "万円", "万円")]
