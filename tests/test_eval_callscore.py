"""Scoring a replayed call from its events: turn windows, hits, latencies, transcript error rate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from asr.audio import SAMPLE_RATE as SR
from eval.callscore import aggregate, score_call
from eval.callset import parse_call, read_calls, timeline


def tone(seconds: float, lead: float = 0.1, tail: float = 0.1) -> np.ndarray:
    """A turn's audio: silence, ``seconds`` of sound, silence."""
    body = 0.5 * np.sin(np.arange(int(seconds * SR)) / 10.0).astype(np.float32)
    return np.concatenate([np.zeros(int(lead * SR), np.float32), body, np.zeros(int(tail * SR), np.float32)])


CALL = {
    "id": "c1", "language": "ja",
    "turns": [
        {"speaker": "agent", "text": "お電話ありがとうございます"},
        {"speaker": "customer", "text": "カードを落としました"},
        {"speaker": "agent", "text": "停止いたします"},
        {"speaker": "customer", "text": "暗証番号も忘れました"},
    ],
    "expected": {"1": ["lost-card"], "3": ["pin"]},
    "facts": ["紛失"],
}


def build() -> tuple:
    call = parse_call(CALL, Path("."))
    audio = [tone(1.0), tone(1.0), tone(1.0), tone(1.0)]
    return call, timeline(call, audio, gap_s=0.6)


def test_timeline_matches_the_replay_layout() -> None:
    _, line = build()
    # each turn is 1.2 s long (0.1 + 1.0 + 0.1), with 0.6 s before each turn and after the last
    assert [round(s.start, 3) for s in line.spans] == [0.6, 2.4, 4.2, 6.0]
    assert round(line.spans[1].speech_end, 3) == 3.5
    assert round(line.duration, 3) == 7.8
    assert line.next_customer_start(1) == pytest.approx(6.1, abs=1e-3)
    assert line.next_customer_start(3) is None
    assert line.turn_at("customer", 2.5, 3.4) == 1
    assert line.turn_at("agent", 2.5, 3.4) is None


def transcript(utt: str, leg: str, start: float, end: float, text: str) -> dict:
    return {"type": "transcript", "final": True, "utterance_id": utt, "leg": leg, "start": start, "end": end,
            "text": text}


def suggestions(utt: str, *items: tuple[str, int]) -> dict:
    return {"type": "suggestions", "utterance_id": utt,
            "items": [{"article_id": a, "rank": r, "title": a, "snippet": "", "score": 1.0} for a, r in items]}


def test_hits_latencies_and_error_rate() -> None:
    call, line = build()
    t0 = 100.0
    received = [
        (t0, {"type": "call_started"}),
        (t0 + 2.0, transcript("a1", "agent", 0.6, 1.8, "お電話ありがとうございます")),
        (t0 + 4.0, transcript("u1", "customer", 2.5, 3.5, "カードを落としました")),
        (t0 + 4.3, suggestions("u1", ("other", 1), ("lost-card", 2))),
        (t0 + 6.0, transcript("a2", "agent", 4.2, 5.4, "停止いたします")),
        (t0 + 7.6, transcript("u2", "customer", 6.1, 7.1, "暗唱番号も忘れました")),
        # the last customer turn has no next turn, so its window stays open
        (t0 + 8.1, suggestions("u2", ("pin", 1))),
        (t0 + 9.0, {"type": "summary", "notes": {"inquiry": []}}),
    ]
    heard: list[list[str]] = []
    result = score_call(call, line, received,
                        lambda c, n, h: (heard.append(list(h)), (0.5, ["紛失"], ["3"], []))[1])
    assert heard == [["お電話ありがとうございます", "カードを落としました", "停止いたします", "暗唱番号も忘れました"]]
    t1, t3 = result.turns[1], result.turns[3]
    assert (t1.hit1, t1.hit3) == (False, True)
    assert (t3.hit1, t3.hit3) == (True, True)
    assert t1.suggestion_latency_s == pytest.approx(4.3 - 3.5)
    assert t3.suggestion_latency_s == pytest.approx(8.1 - 7.1)
    assert t1.final_latency_s == pytest.approx(0.5)
    assert t3.hypothesis == "暗唱番号も忘れました"
    # one substituted character out of the 4 turns' 40 characters
    assert result.error_rate == pytest.approx(1 / 40, abs=1e-3)
    assert result.summary_latency_s == pytest.approx(9.0 - 7.8)
    assert (result.fact_coverage, result.invented_numbers, result.missing_facts) == (0.5, 1, ["紛失"])

    summary = aggregate([result])
    assert summary["hit@1"] == 0.5 and summary["hit@3"] == 1.0
    assert summary["n_calls"] == 1 and summary["invented_numbers"] == 1 and summary["ungrounded_numbers"] == 0
    assert summary["suggestion_latency_s_p50"] == pytest.approx(0.9)


def test_suggestion_after_the_next_customer_turn_is_a_miss() -> None:
    call, line = build()
    received = [
        (0.0, {"type": "call_started"}),
        (3.8, transcript("u1", "customer", 2.5, 3.5, "カードを落としました")),
        (6.5, suggestions("u1", ("lost-card", 1))),  # the next customer turn started speaking at 6.1
    ]
    result = score_call(call, line, received)
    assert result.turns[1].hit3 is False and result.turns[1].suggestion_latency_s is None
    assert result.turns[1].late == [("lost-card", 1)]
    # ...but the card is on screen when turn 3 starts: a carried hit would need turn 3 to expect it
    assert result.turns[3].hit3 is False
    summary = aggregate([result])
    assert summary["n_customer_turns_without_suggestion"] == 2
    assert summary["hit@3"] == 0.0 and summary["hit@3_untimed"] == 0.5


def test_card_already_on_screen_counts_but_not_strictly() -> None:
    row = {**CALL, "expected": {"1": ["lost-card"], "3": ["lost-card"]}}
    call = parse_call(row, Path("."))
    line = timeline(call, [tone(1.0)] * 4, gap_s=0.6)
    received = [
        (0.0, {"type": "call_started"}),
        (3.8, transcript("u1", "customer", 2.5, 3.5, "カードを落としました")),
        (4.0, suggestions("u1", ("lost-card", 1))),
    ]
    result = score_call(call, line, received)
    assert result.turns[3].hit1 is True and result.turns[3].hit1_strict is False
    summary = aggregate([result])
    assert summary["hit@1"] == 1.0 and summary["hit@1_strict"] == 0.5


def test_a_call_that_never_started_scores_nothing() -> None:
    call, line = build()
    result = score_call(call, line, [(0.0, {"type": "error", "code": "too_many_calls", "fatal": True})])
    assert result.errors == ["too_many_calls"] and result.error_rate is None
    assert aggregate([result])["hit@3"] == 0.0


def test_read_calls_rejects_an_expected_agent_turn(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_text(json.dumps({**CALL, "expected": {"0": ["x"]}}, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"calls.jsonl:1: .*not a customer turn"):
        read_calls(path)


def test_misheard_numbers_are_told_apart_from_invented_ones() -> None:
    from eval.calls import notes_scorer

    call, _ = build()
    notes = {"language": "ja", "backend": "extractive",
             "inquiry": [{"text": "カードを5枚落としました", "turns": [1]}],
             "actions": [{"text": "7日以内に停止いたします", "turns": [2]}]}
    heard = ["お電話ありがとうございます", "カードを5枚落としました", "停止いたします", "暗証番号も忘れました"]
    coverage, missing, invented, ungrounded = notes_scorer(None)(call, notes, heard)
    assert (coverage, missing) == (0.0, ["紛失"])
    assert invented == ["5", "7"], "neither number was said"
    assert ungrounded == ["7"], "5 was in the transcript (misheard); 7 was in nothing the service heard"
