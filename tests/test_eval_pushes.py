"""What the agent sees, scored per push: top card expected, junk pushes after turns expecting no card, and the
panel (modelled as the widget's CardList keeps it) when each request turn ends."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asr.audio import SAMPLE_RATE as SR
from eval.callscore import PANEL_VISIBLE, aggregate, score_call, upsert
from eval.callset import parse_call, timeline
from eval.report_html import render

CALL = {
    "id": "p1", "language": "ja",
    "turns": [
        {"speaker": "agent", "text": "お電話ありがとうございます"},
        {"speaker": "customer", "text": "カードを落としてしまって"},
        {"speaker": "agent", "text": "お名前をお願いいたします"},
        {"speaker": "customer", "text": "山田花子です"},
        {"speaker": "agent", "text": "カードを停止いたしました"},
        {"speaker": "customer", "text": "あと暗証番号も忘れました"},
        {"speaker": "agent", "text": "再設定の書類をお送りします"},
        {"speaker": "customer", "text": "いえ、大丈夫です。ありがとうございました。"},
    ],
    "expected": {"1": ["lost-card"], "5": ["pin"]},
}


def _tone() -> np.ndarray:
    body = 0.5 * np.sin(np.arange(SR) / 10.0).astype(np.float32)
    pad = np.zeros(int(0.1 * SR), np.float32)
    return np.concatenate([pad, body, pad])


def _transcript(utt: str, leg: str, start: float, text: str) -> dict:
    return {"type": "transcript", "final": True, "utterance_id": utt, "leg": leg, "start": start,
            "end": start + 1.0, "text": text}


def _push(utt: str, *items: tuple[str, int]) -> dict:
    return {"type": "suggestions", "utterance_id": utt,
            "items": [{"article_id": a, "rank": r, "title": a, "snippet": "", "score": 1.0} for a, r in items]}


def _replay() -> tuple:
    call = parse_call(CALL, Path("."))
    line = timeline(call, [_tone() for _ in call.turns], gap_s=0.6)
    spans = {s.index: s for s in line.spans}
    t0 = 50.0

    def heard(index: int) -> float:  # when the final of a turn arrives: just after its speech
        return t0 + spans[index].speech_end + 0.3

    received = [(t0, {"type": "call_started"})]
    for turn in call.turns:
        received.append((heard(turn.index), _transcript(f"u{turn.index}", turn.speaker,
                                                         spans[turn.index].speech_start, turn.text)))
    received += [
        (heard(1) + 0.2, _push("u1", ("lost-card", 1), ("cancel", 2), ("sim-lost", 3))),  # top right
        (heard(3) + 0.2, _push("u3", ("address-change", 1))),  # an identity answer: junk, top wrong
        (heard(5) + 0.2, _push("u5", ("lost-card", 2), ("pin", 1))),  # top right (rank order, not list order)
        (heard(5) + 0.4, _push("u5", ("pin-reset-form", 3))),  # goes on top of the panel: top not expected
        (heard(7) + 0.2, _push("u7", ("receipt", 1), ("returns", 2))),  # after the closing: junk
    ]
    received.sort(key=lambda r: r[0])
    return call, line, score_call(call, line, received)


def test_upsert_models_the_widget_card_list() -> None:
    assert upsert([], [("b", 2), ("a", 1)]) == ["a", "b"]
    # pushed cards go on top in rank order; the rest keep their order below
    assert upsert(["a", "b", "c"], [("c", 1), ("d", 2)]) == ["c", "d", "a", "b"]
    assert upsert(["a", "b"], [("a", 1), ("b", 2)]) == ["a", "b"]
    assert upsert(["a", "b", "c"], [("z", 3)]) == ["z", "a", "b", "c"], "a lone rank-3 card still lands on top"


def test_each_push_is_scored_for_its_top_card_and_its_turn() -> None:
    _, _, result = _replay()
    pushes = result.pushes
    assert [p.turn for p in pushes] == [1, 3, 5, 5, 7]
    assert [p.cards[0] for p in pushes] == ["lost-card", "address-change", "pin", "pin-reset-form", "receipt"]
    assert [p.top_expected for p in pushes] == [True, False, True, False, False]
    assert [p.junk for p in pushes] == [False, True, False, False, True], "identity answer and closing are junk"


def test_panel_at_the_end_of_each_request_turn() -> None:
    _, _, result = _replay()
    turns = {t.index: t for t in result.turns}
    # turn 1's window closes when the customer starts turn 3: the identity push came after that
    assert turns[1].on_screen == ["lost-card", "cancel", "sim-lost"]
    # turn 5: its two pushes, then the earlier cards below, only PANEL_VISIBLE of them unfolded
    assert turns[5].on_screen == ["pin-reset-form", "pin", "lost-card", "address-change"][:PANEL_VISIBLE]
    assert turns[3].on_screen is None and turns[7].on_screen is None, "only request turns are read"


def test_aggregate_reports_the_push_figures() -> None:
    _, _, result = _replay()
    summary = aggregate([result])
    assert summary["pushes"] == 5
    assert summary["push_top1_precision"] == 0.4
    assert summary["junk_pushes"] == 2
    assert summary["on_screen@1"] == 0.5  # turn 1 right on top; turn 5 shows the form card above the pin card
    assert summary[f"on_screen@{PANEL_VISIBLE}"] == 1.0
    dumped = result.to_dict()
    assert dumped["pushes"][1]["junk"] is True and dumped["turns"][1]["on_screen"][0] == "lost-card"


def test_no_pushes_no_figures() -> None:
    call = parse_call(CALL, Path("."))
    line = timeline(call, [_tone() for _ in call.turns], gap_s=0.6)
    summary = aggregate([score_call(call, line, [(0.0, {"type": "call_started"})])])
    assert summary["pushes"] == 0 and summary["junk_pushes"] == 0
    assert summary["push_top1_precision"] is None
    assert summary["on_screen@1"] == 0.0, "a request turn with nothing on screen is a miss"


def test_report_page_shows_the_push_figures() -> None:
    _, _, result = _replay()
    headline = aggregate([result])
    report = {
        "generated": "now", "headline": headline, "verdicts": {}, "targets": {},
        "sections": {"calls": {"command": "python -m eval calls", "metrics": headline, "seconds": 1.0, "error": None}},
        "calls": [result.to_dict()], "worst_call_misses": [], "worst_query_misses": [],
    }
    page = render(report, {})
    assert '<div class="k">junk pushes (turn expects no card)</div><div class="v">2</div>' in page
    assert '<div class="k">pushes whose top card is expected</div><div class="v">0.40</div>' in page
    assert "<h2>What the agent saw: pushes</h2>" in page
    assert "いえ、大丈夫です。ありがとうございました。" in page and "receipt, returns" in page  # the closing's push
    assert "pin-reset-form, pin, lost-card, address-change" in page  # turn 5's panel
