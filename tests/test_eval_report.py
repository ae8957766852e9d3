"""The QA report: figures render, the page is self-contained, verdicts follow the targets."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from eval import plots
from eval.callscore import CallResult, TurnResult
from eval.callset import TurnSpan
from eval.report import Section, retrieval_ranks, verdicts, worst_call_misses
from eval.report_html import render


def results() -> tuple[list[CallResult], dict[str, list[TurnSpan]]]:
    turns = [
        TurnResult(0, "agent", "お電話ありがとうございます", "お電話ありがとうございます", final_latency_s=1.1),
        TurnResult(1, "customer", "カードを落としました", "カードを落としました", expected=["lost-card"],
                   suggested=[("pin", 1)], hit1=False, hit3=False, suggestion_latency_s=1.4, final_latency_s=1.2),
    ]
    spans = [TurnSpan(0, "agent", 0.6, 2.0, 0.7, 1.9), TurnSpan(1, "customer", 2.6, 4.0, 2.7, 3.9)]
    call = CallResult("ja-1", "ja", turns, error_rate=0.0, fact_coverage=0.8, invented_numbers=1, invented=["5"],
                      summary_latency_s=0.7)
    return [call], {"ja-1": spans}


def test_verdicts_compare_with_the_targets() -> None:
    v = verdicts({"hit@3": 0.95, "suggestion_latency_s_p95": 3.0, "fact_coverage": None, "invented_numbers": 0})
    assert v == {"hit@3": True, "suggestion_latency_s_p95": False, "fact_coverage": None, "invented_numbers": True,
                 "ungrounded_numbers": None, "wrong_numbers_stated": None}


def test_worst_misses_list_the_missed_turn_with_its_transcript() -> None:
    calls, _ = results()
    [miss] = worst_call_misses(calls, limit=1)
    assert miss["call"] == "ja-1" and miss["turn"] == 1 and miss["suggested"] == ["pin"]
    assert miss["transcript"] == "カードを落としました"


def test_retrieval_ranks_from_the_misses_lines(tmp_path: Path) -> None:
    kb = tmp_path / "kb.jsonl"
    kb.write_text('{"id": "a", "title": "A", "answer": "x", "category": "カード"}\n', encoding="utf-8")
    queries = tmp_path / "q.jsonl"
    queries.write_text("\n".join(json.dumps(q) for q in (
        {"id": "q1", "query": "one", "relevant": ["a"]},
        {"id": "q2", "query": "two", "relevant": ["a"]},
        {"id": "q3", "query": "three", "relevant": ["a"]},
        {"id": "q4", "query": "off topic", "relevant": []},
    )), encoding="utf-8")
    section = Section("retrieval", [], lines=[
        "embedder loaded",
        json.dumps({"id": "q2", "query": "two", "expected": ["a"], "got": ["b", "a", "c"]}),
        json.dumps({"id": "q3", "query": "three", "expected": ["a"], "got": ["b", "c", "d"]}),
    ])
    ranks, labels, worst = retrieval_ranks(section, queries, kb)
    assert ranks == [1, 2, None]
    assert labels == ["ja · カード"] * 3
    assert [w["id"] for w in worst] == ["q3"]


def test_page_is_self_contained_with_real_figures() -> None:
    calls, spans = results()
    images = {
        "latency": plots.latency_distributions(calls, 2.5),
        "timelines": plots.call_timelines(calls, spans),
        "per_call": plots.per_call_bars(calls),
        "query_ranks": plots.query_ranks([1, 2, None, 1], ["ja · カード"] * 2 + ["en · -"] * 2),
    }
    for png in images.values():
        assert png.startswith(b"\x89PNG") and len(png) > 2000
    headline = {"hit@1": 0.0, "hit@3": 0.0, "suggestion_latency_s_p95": 1.4, "n_calls": 1, "invented_numbers": 1}
    report = {
        "generated": "now", "headline": headline, "verdicts": verdicts(headline),
        "targets": {"hit@3": {"kind": "min", "limit": 0.9}},
        "sections": {"calls": {"command": "python -m eval calls", "metrics": headline, "seconds": 1.0,
                               "error": None},
                     "asr": {"command": "python -m eval asr", "metrics": {}, "seconds": 0.0, "error": "exit 1"}},
        "calls": [c.to_dict() for c in calls], "worst_call_misses": worst_call_misses(calls),
        "worst_query_misses": [],
    }
    page = render(report, {k: base64.b64encode(v).decode() for k, v in images.items()})
    assert page.count("data:image/png;base64,") == 3  # no retrieval section: its figure is not shown
    assert not re.search(r"""(src|href)=["']https?:""", page)
    assert '<div class="card fail"><div class="k">hit@3</div><div class="v">0.00</div>' in page
    assert "カードを落としました" in page and "Failed: exit 1" in page
