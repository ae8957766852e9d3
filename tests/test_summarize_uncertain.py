"""Numbers the recognizer was unsure of never reach the notes as fact: marked 要確認 in their lines, moved out of
``entities`` into ``to_confirm``, and counted apart from stated ones by the call eval."""

from __future__ import annotations

from eval.callscore import split_wrong
from eval.summary import score_call
from summarize.base import Turn
from summarize.extractive import ExtractiveSummarizer
from summarize.generative import GenerativeSummarizer, Message
from summarize.notes import CallNotes, Entity, NoteLine
from summarize.numbers import number_values
from summarize.uncertain import MARK, mark_uncertain, unmark, without_flagged


def _span(text: str, piece: str) -> tuple[int, int]:
    start = text.index(piece)
    return start, start + len(piece)


BILL = "先月の請求が3万2千円になってるんですけど、高すぎませんか。"
CALL = [
    Turn(0, "agent", "お電話ありがとうございます。あおぞら電力の池田でございます。"),
    Turn(1, "customer", BILL, uncertain=(_span(BILL, "3万2千円"),)),
    Turn(2, "customer", "いつもは1万円くらいなんです。請求を確認してもらえますか。"),
    Turn(3, "agent", "確認いたしました。今月のご使用量が増えたため、請求額が上がっております。"),
    Turn(4, "agent", "料金プランの見直しをご案内いたしました。"),
    Turn(5, "customer", "わかりました。ありがとうございます。"),
]


def test_an_uncertain_amount_is_flagged_never_stated() -> None:
    notes = ExtractiveSummarizer().summarize(CALL, language="ja")
    line = next(line for line in notes.inquiry if 1 in line.turns)
    assert "3万2千円(要確認)" in line.text, line.text
    assert "32000" not in number_values(without_flagged(line.text, "ja"), "ja")
    assert not any(e.value == "32000" for e in notes.entities), "an uncertain amount is no entity"
    [confirm] = notes.to_confirm
    assert (confirm.kind, confirm.text, confirm.value, confirm.turns) == ("amount", "3万2千円", "32000", [1])
    # the number heard well in the next turn stays a plain fact
    assert any(e.value == "10000" for e in notes.entities)


def test_without_uncertain_spans_the_notes_are_unchanged() -> None:
    plain = [Turn(t.index, t.speaker, t.text) for t in CALL]
    notes = ExtractiveSummarizer().summarize(plain, language="ja")
    assert not notes.to_confirm and MARK["ja"] not in notes.model_dump_json()
    assert any(e.value == "32000" for e in notes.entities)


def test_a_clear_read_back_in_the_same_line_confirms_the_number() -> None:
    turns = [Turn(0, "customer", "5日に届くはずです", uncertain=((0, 2),)), Turn(1, "agent", "5日でございますね")]
    notes = CallNotes(inquiry=[NoteLine(text="5日に届くはず / 5日でございますね", turns=[0, 1])],
                      actions=[NoteLine(text="5日に届くはずです", turns=[0])],
                      entities=[Entity(kind="date", text="5日", value="---05", turns=[0, 1])])
    marked = mark_uncertain(notes, turns)
    assert MARK["ja"] not in marked.inquiry[0].text, "the agent's clear 5日 confirms it"
    assert marked.actions[0].text == "5日(要確認)に届くはずです"
    assert [e.text for e in marked.entities] == ["5日"] and [e.turns for e in marked.to_confirm] == [[0]]
    assert mark_uncertain(marked, turns).actions[0].text == marked.actions[0].text, "marking twice adds nothing"


def test_english_marks_and_the_generative_backend() -> None:
    text = "I was charged $65 twice last month."
    turns = [Turn(0, "agent", "Thank you for calling, this is Kim."),
             Turn(1, "customer", text, uncertain=(_span(text, "$65"),)),
             Turn(2, "customer", "Please refund one of the charges to my card."),
             Turn(3, "agent", "I have refunded the duplicate charge.")]

    class Chat:
        name = "fake-llm"

        def complete(self, messages: list[Message], *, json_mode: bool) -> str:
            return ('{"inquiry": [{"text": "Customer was charged $65 twice", "turns": [1]}],'
                    ' "actions": [{"text": "Refunded the duplicate charge", "turns": [3]}], "result": "resolved"}')

    notes = GenerativeSummarizer(Chat()).summarize(turns, language="en")
    assert notes.backend == "fake-llm"
    assert notes.inquiry[0].text == "Customer was charged $65 (to confirm) twice"
    assert [(e.text, e.value) for e in notes.to_confirm] == [("$65", "65")]


def test_eval_counts_flagged_wrong_numbers_apart_from_stated_ones() -> None:
    notes = {"inquiry": [{"text": "50(要確認)所の変更", "turns": [1]}, {"text": "1000月の請求", "turns": [2]}],
             "actions": [{"text": "5成球の確認", "turns": [3], "flagged": True}], "result_line": None}
    assert split_wrong(notes, ["1000", "50"], "ja") == (["1000"], ["50"])
    phone = {"inquiry": [{"text": "電話は98,765,1321(要確認)です", "turns": [1]}], "result_line": None}
    assert split_wrong(phone, ["1", "2", "3", "5", "6", "7", "8", "9"], "ja")[0] == [], "one number, flagged whole"


def test_marks_do_not_cost_fact_coverage() -> None:
    notes = CallNotes(inquiry=[NoteLine(text="返金は1週間(要確認)以内", turns=[1])],
                      to_confirm=[Entity(kind="amount", text="500円", value="500", turns=[2])])
    assert unmark(notes.inquiry[0].text) == "返金は1週間以内"
    row = score_call({"id": "c", "language": "ja", "facts": ["1週間以内", "500円"]}, notes,
                     [Turn(1, "customer", "返金は1週間以内"), Turn(2, "agent", "500円です")], [])
    assert row["fact_coverage"] == 1.0 and row["invented_numbers"] == []
