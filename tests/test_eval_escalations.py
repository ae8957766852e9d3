"""The scripted escalations (eval/data/escalations.jsonl) and how ``eval calls`` scores alerts and checklists: the set
covers every condition in both languages and splits; raised, missed, late, false and extra alerts are told apart;
and a text replay of the dev split through the live service raises every expected alert within 2 s with no alert
on the calm dev calls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from asr.base import LegAudio, StreamingRecognizer, Utterance
from assist.alerts.rules import RulesSource
from assist.checklist import load_checklists
from eval.alertscore import DELAY_TARGET_S, alert_rows, score_alerts
from eval.alertscore import summarize as alert_summary
from eval.calls import main as calls_main
from eval.callscore import aggregate, score_call
from eval.callset import ESCALATION_CALLS, parse_call, read_calls
from eval.report import ALERT_TARGETS, verdicts
from eval.report_html import render
from eval.textreplay import OracleRetrieval, ScriptedAsr, text_timeline
from retrieval.base import Suggester

CALL = {
    "id": "e1", "language": "ja", "split": "dev",
    "turns": [
        {"speaker": "agent", "text": "お電話ありがとうございます。"},
        {"speaker": "customer", "text": "カードが使えないんですけど。", "duration": 3.0},
        {"speaker": "agent", "text": "お名前をお願いいたします。", "gap": -1.5, "duration": 2.5},
        {"speaker": "customer", "text": "いい加減にしろ、上司を出せ。"},
        {"speaker": "agent", "text": "お待たせいたしました。", "gap": 20.0},
    ],
    "alerts": [{"rule": "kasuhara-abuse", "turn": 3, "category": "intimidation"}, {"rule": "manager-request", "turn": 3},
               {"condition": "silence", "turn": 4}, {"rule": "agent-overtalk", "turn": 2}],
    "checklist": {"identity": True, "closing": False, "anything-else": False},
}


def _alert(rule: str, condition: str, utterance: str, category: str | None = None) -> dict:
    return {"type": "alert", "rule": rule, "condition": condition, "category": category, "utterance_id": utterance}


def test_escalation_set_covers_every_condition_in_both_languages_and_splits() -> None:
    calls = read_calls(ESCALATION_CALLS)
    rows = [json.loads(line) for line in ESCALATION_CALLS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(calls) >= 6 and {c.language for c in calls} == {"ja", "en"}
    assert {r["split"] for r in rows} == {"dev", "test"}
    rules = {r.id: r for r in RulesSource(None).current().rules}
    checklists = load_checklists()
    items = {s.id for s in checklists.default} | {s.id for specs in checklists.by_category.values() for s in specs}
    for split in ("dev", "test"):
        split_calls = [c for c, r in zip(calls, rows, strict=True) if r["split"] == split]
        assert {c.language for c in split_calls} == {"ja", "en"}
        wanted = [a for c in split_calls for a in c.alerts or []]
        conditions = {rules[a.rule].condition for a in wanted}
        assert conditions >= {"abuse", "manager_request", "cancellation", "negative_sentiment", "silence", "overtalk",
                              "speaking_rate"}, split
        categories = {a.category for a in wanted if a.category}
        assert {"verbal_abuse", "personal_attack"} <= categories, split
        assert categories & {"long_restraint", "dogeza_demand", "sns_exposure"}, split
    assert "threat" in {a.category for c in calls for a in c.alerts or []}
    for call in calls:
        assert call.alerts and call.checklist, call.id
        assert all(a.rule in rules for a in call.alerts), call.id
        assert set(call.checklist) <= items, call.id
        assert call.expected, "a request turn brings the call's category (and its checklist items)"
    states = [done for call in calls for done in (call.checklist or {}).values()]
    assert len(states) >= 30 and 0.1 < states.count(False) / len(states) < 0.5, "items done and not done"


def test_text_timeline_lays_out_pauses_talk_over_and_durations() -> None:
    call = parse_call(CALL, Path("."))
    spans = text_timeline(call, gap_s=0.6).spans
    assert spans[1].end - spans[1].start == pytest.approx(3.0)
    assert spans[2].start == pytest.approx(spans[1].end - 1.5), "a negative gap starts before the other leg ended"
    assert spans[2].end == pytest.approx(spans[2].start + 2.5)
    assert spans[3].start == pytest.approx(spans[2].end + 0.6)
    assert spans[4].start - spans[3].end == pytest.approx(20.0)
    assert spans[0].end - spans[0].start > 1.0, "an unset duration comes from the text"
    with pytest.raises(ValueError, match="rule or condition"):
        parse_call({**CALL, "alerts": [{"turn": 1}]}, Path("."))


def test_scripted_legs_emit_each_final_when_the_audio_reaches_its_end() -> None:
    call = parse_call(CALL, Path("."))
    line = text_timeline(call)
    asr = ScriptedAsr(speed=2.0)
    asr.script("c1", call, line)
    heard: list[Utterance] = []
    leg = asr.open_leg("c1", "agent", language=None, on_event=heard.append)
    assert isinstance(asr, StreamingRecognizer) and isinstance(leg, LegAudio)
    ends = [s.end for s in line.spans if s.speaker == "agent"]
    leg.feed(np.zeros(int((ends[1] / 2 - 0.05) * 16000), np.float32))  # at speed 2: just short of the 2nd end
    assert [(u.utterance_id, u.final, u.language) for u in heard] == [("t0", True, "ja")]
    assert (heard[0].start, heard[0].end) == (line.spans[0].start, line.spans[0].end), "the script's own times"
    leg.close()
    assert [u.utterance_id for u in heard] == ["t0", "t2", "t4"], "what is left is said when the audio stops"

    oracle = OracleRetrieval([parse_call({**CALL, "expected": {"1": ["lost-card", "pin-forgot"]}}, Path("."))])
    assert isinstance(oracle, Suggester)
    hits = oracle.suggest("カードが使えないんですけど。").hits
    assert [(h.article_id, h.category, h.confidence) for h in hits] == [("lost-card", "カード", "high"),
                                                                        ("pin-forgot", "カード", "medium")]
    assert oracle.suggest("ほかの質問").abstained


def test_alerts_are_scored_raised_late_missed_false_or_extra() -> None:
    call = parse_call(CALL, Path("."))
    line = text_timeline(call)
    ends = {s.index: s.speech_end for s in line.spans}
    t0 = 100.0
    turn_of = {f"t{i}": i for i in range(5)}
    received = [
        (t0, {"type": "call_started"}),
        (t0 + ends[3] + 0.2, _alert("kasuhara-abuse", "abuse", "t3", "intimidation")),
        (t0 + ends[3] + 0.2, _alert("kasuhara-threat", "abuse", "t3", "threat")),  # another on an escalation turn
        (t0 + ends[4] + 3.5, _alert("long-silence", "silence", "t4")),  # late
        (t0 + ends[1] + 0.1, _alert("negative-sentiment", "negative_sentiment", "t1")),  # no alert expected there
        (t0 + ends[2], {"type": "checklist", "items": [{"id": "identity", "done": False}]}),
        (t0 + ends[4], {"type": "checklist", "items": [{"id": "identity", "done": True},
                                                        {"id": "closing", "done": True}]}),
    ]
    result = score_alerts(call, line, received, turn_of, t0)
    by_label = {c.label: c for c in result.checks}
    assert by_label["kasuhara-abuse/intimidation"].raised and by_label["kasuhara-abuse/intimidation"].on_time
    assert by_label["kasuhara-abuse/intimidation"].delay_s == pytest.approx(0.2)
    assert not by_label["manager-request"].raised and not by_label["agent-overtalk"].raised
    silence = by_label["condition=silence"]
    assert silence.raised and silence.delay_s == pytest.approx(3.5) and silence.delay_s > DELAY_TARGET_S
    assert not silence.on_time
    assert [(a.rule, a.turn) for a in result.false_alerts] == [("negative-sentiment", 1)]
    assert [(a.rule, a.turn) for a in result.extra_alerts] == [("kasuhara-threat", 3)]
    assert [(i.id, i.correct) for i in result.checklist] == [("identity", True), ("closing", False),
                                                             ("anything-else", True)]

    calm = parse_call({**CALL, "id": "calm", "alerts": None, "checklist": None}, Path("."))
    calm_result = score_alerts(calm, line, received, turn_of, t0)
    assert len(calm_result.false_alerts) == 4 and calm_result.checks == [] and calm_result.checklist == []

    summary = alert_summary([result, calm_result])
    assert summary["alerts_expected"] == 4 and summary["alerts_raised_expected"] == 2
    assert summary["alert_recall"] == 0.5 and summary["alerts_on_time"] == 1 and summary["alert_on_time_rate"] == 0.25
    assert summary["alert_delay_s_max"] == pytest.approx(3.5)
    assert summary["false_alerts"] == 5 and summary["false_alerts_calm"] == 4 and summary["extra_alerts"] == 1
    assert summary["false_alerts_by_rule"] == {"kasuhara-abuse": 1, "kasuhara-threat": 1, "long-silence": 1,
                                               "negative-sentiment": 2}
    assert summary["checklist_items"] == 3 and summary["checklist_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert verdicts(summary, ALERT_TARGETS) == {"alert_on_time_rate": False, "false_alerts_calm": False,
                                                "checklist_accuracy": False}

    rows = alert_rows([call, calm], [result, calm_result])
    section = {"command": "python -m eval calls --text", "seconds": 1.0, "summary": summary,
               "verdicts": verdicts(summary, ALERT_TARGETS),
               "targets": {k: {"kind": kind, "limit": limit} for k, (kind, limit) in ALERT_TARGETS.items()}, **rows}
    page = render({"generated": "now", "headline": {}, "verdicts": {}, "targets": {}, "sections": {},
                   "alerts": section, "worst_call_misses": [], "worst_query_misses": []}, {})
    assert "Alerts and checklists (scripted escalations)" in page and "MISSED" in page
    assert "いい加減にしろ、上司を出せ。" in page and "extra (another was expected)" in page
    assert '<div class="card fail"><div class="k">checklist items right</div><div class="v">0.67</div>' in page


def test_audio_replays_report_alerts_on_calm_calls_too() -> None:
    """``score_call`` (every ``eval calls`` run) scores the alert events of a call without expectations."""
    calm = parse_call({**CALL, "alerts": None, "checklist": None}, Path("."))
    line = text_timeline(calm)
    span = line.spans[3]
    received = [(0.0, {"type": "call_started"}),
                (span.end + 0.3, {"type": "transcript", "final": True, "utterance_id": "u3", "leg": "customer",
                                  "start": span.start, "end": span.end, "text": "いい加減にしろ"}),
                (span.end + 0.3, _alert("kasuhara-abuse", "abuse", "u3", "intimidation"))]
    summary = aggregate([score_call(calm, line, received)])
    assert summary["false_alerts_calm"] == 1 and summary["n_calm_calls"] == 1 and summary["alerts_expected"] == 0
    assert summary["false_alerts_by_rule"] == {"kasuhara-abuse": 1} and summary["alert_recall"] is None


@pytest.mark.slow  # the live service in-process, ~30 s of replay
def test_dev_escalations_alert_within_two_seconds_and_calm_dev_calls_raise_none(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    details = tmp_path / "details.json"
    assert calls_main(["--text", "--split", "dev", "--speed", "5", "--concurrency", "40", "--json",
                       "--details", str(details)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["mode"] == "text" and summary["errors"] == []
    assert summary["n_escalation_calls"] >= 3 and summary["n_calm_calls"] >= 20
    assert summary["alerts_expected"] >= 15
    assert summary["alert_recall"] == 1.0 and summary["alert_on_time_rate"] == 1.0
    assert summary["alert_delay_s_max"] is not None and summary["alert_delay_s_max"] <= DELAY_TARGET_S
    assert summary["false_alerts_calm"] == 0 and summary["false_alerts"] == 0
    assert summary["checklist_items"] >= 15 and summary["checklist_accuracy"] >= 0.9
    calls = json.loads(details.read_text(encoding="utf-8"))
    escalations = [c for c in calls if c["alerts"]["escalation"]]
    assert {c["language"] for c in escalations} == {"ja", "en"}
    assert all(check["raised"] for c in escalations for check in c["alerts"]["checks"])
    assert all(c["alerts"]["raised"] == [] for c in calls if not c["alerts"]["escalation"])
