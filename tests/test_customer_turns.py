"""Which customer turn a final belongs to: a turn split by pauses is searched as one (assist/customer_turns.py)."""

from __future__ import annotations

from dataclasses import replace

from assist.customer_turns import CustomerFinal, TurnAssembler, finished, rejoin_amounts
from summarize.base import Turn


def _final(uid: str, text: str, start: float, end: float) -> CustomerFinal:
    return CustomerFinal(uid, text, speech_end=end, turn=0, start=start, end=end)


def test_a_fragment_cut_by_a_pause_joins_the_next_final() -> None:
    turns = TurnAssembler(join_gap_s=2.0)
    first = _final("c0", "全然知らないネットのゲーム会社から、4、", 1.0, 4.0)
    second = _final("c1", "980円の請求が来てるんですよ。", 4.6, 6.5)
    group = turns.customer(first, "ja")
    assert turns.customer(second, "ja") is group and second.group is group
    assert group.text() == "全然知らないネットのゲーム会社から、4、980円の請求が来てるんですよ。"
    assert group.text(first) == "全然知らないネットのゲーム会社から、4、"
    assert group.superseded(first) and not group.superseded(second)


def test_what_ends_a_turn() -> None:
    turns = TurnAssembler(join_gap_s=2.0)
    a = turns.customer(_final("c0", "カードを落としてしまって", 0.0, 2.0), "ja")
    assert turns.customer(_final("c1", "ちょっと待ってください", 4.5, 5.5), "ja") is not a, "a pause over the gap"
    b = turns.customer(_final("c2", "どうしたらいいですか。", 5.8, 7.0), "ja")
    assert turns.customer(_final("c3", "あと", 7.2, 7.5), "ja") is not b, "a finished sentence"
    c = turns.customer(_final("c4", "えっと、カードの", 9.0, 10.0), "ja")
    turns.agent("はい")  # a backchannel leaves the turn open
    assert turns.customer(_final("c5", "暗証番号を忘れて", 10.3, 11.0), "ja") is c
    turns.agent("暗証番号の再設定ですね")
    assert turns.customer(_final("c6", "そうなんです", 11.5, 12.0), "ja") is not c, "agent words between"
    d = turns.customer(_final("c7", "I lost my card", 20.0, 21.0), "en")
    assert turns.customer(_final("c8", "also my address changed", 21.5, 23.0), "en") is not d, "an opener"
    e = turns.customer(_final("c9", "I moved last month and", 30.0, 31.0), "en")
    assert turns.customer(_final("c10", "need to update my address.", 31.4, 33.0), "en") is e
    assert e.text() == "I moved last month and need to update my address."


def test_a_request_told_over_two_sentences_refines_the_cards_of_the_first() -> None:
    turns = TurnAssembler(join_gap_s=2.0)
    story = turns.customer(_final("c0", "来月札幌に転勤になりまして。", 0.0, 2.0), "ja")
    ask = turns.customer(_final("c1", "今の部屋の電気とガスを止めたいんですけど。", 2.5, 5.0), "ja")
    assert ask is not story and ask.after is story, "a finished sentence starts a turn of the same run"
    assert not ask.refines()
    story.pushed = True  # the story's cards are on screen: the ask refines them, it is no follow-up to keep off
    assert ask.refines()
    turns.agent("お引っ越しですね")
    reply = turns.customer(_final("c2", "はい、そうです。", 6.0, 7.0), "ja")
    assert reply.after is None and not reply.refines(), "agent words end the run"
    late = turns.customer(_final("c3", "それと請求書の送り先も変えたいです。", 9.5, 11.0), "ja")
    assert late.after is None, "a pause over the gap ends the run"
    also = turns.customer(_final("c4", "あと、解約もできますか。", 11.3, 12.5), "ja")
    assert also.after is None, "an opener starts a topic of its own"


def test_a_gap_of_zero_searches_every_final_alone() -> None:
    turns = TurnAssembler(join_gap_s=0.0)
    a = turns.customer(_final("c0", "カードを", 0.0, 1.0), "ja")
    assert turns.customer(_final("c1", "なくしました", 1.1, 2.0), "ja") is not a


def test_finished_reads_the_sentence_end() -> None:
    assert finished("980円の請求が来てるんですよ。") and finished("Can you help?") and finished("「はい。」")
    assert not finished("ゲーム会社から、4、") and not finished("I lost my card") and not finished("もしもし")


def test_the_notes_read_an_amount_a_pause_cut_whole() -> None:
    turns = [Turn(0, "customer", "ゲーム会社から、4、", 1.0, 3.0, uncertain=((8, 9),)),
             Turn(1, "customer", "980円の請求が来てるんですよ。", 3.5, 5.0),
             Turn(2, "agent", "4,980円のご請求ですね。", 6.0, 7.0),
             Turn(3, "agent", "1、", 8.0, 8.5), Turn(4, "customer", "100円です", 8.7, 9.0)]
    out = rejoin_amounts(turns)
    assert [t.text for t in out[:2]] == ["ゲーム会社から、", "4,980円の請求が来てるんですよ。"]
    assert out[0].uncertain == () and out[1].uncertain == ((0, 5),), "the unsure 4 marks the amount it moved into"
    assert out[3:] == turns[3:], "another speaker's final is not the rest of an amount"
    far = [replace(turns[0], uncertain=()), replace(turns[1], start=9.0, end=10.0)]
    assert rejoin_amounts(far) == far, "a pause longer than the gap"
