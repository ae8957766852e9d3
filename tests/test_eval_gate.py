"""The quality gate: its limits file, and that a below-threshold metric fails it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval import gate
from eval.gate import Check, evaluate, load_thresholds

CHECK = Check("calls", ["calls"], minimum={"hit@3": 0.9}, maximum={"invented_numbers": 0.0})


def test_metrics_within_limits_pass() -> None:
    assert evaluate(CHECK, {"hit@3": 0.95, "invented_numbers": 0}) == []


def test_below_minimum_fails_naming_metric_value_and_limit() -> None:
    [violation] = evaluate(CHECK, {"hit@3": 0.5, "invented_numbers": 0})
    assert (violation.metric, violation.value, violation.limit, violation.kind) == ("hit@3", 0.5, 0.9, "min")
    assert violation.message() == "calls: hit@3 = 0.5 < 0.9 (the minimum in eval/thresholds.toml)"


def test_above_maximum_and_missing_metrics_fail() -> None:
    violations = evaluate(CHECK, {"invented_numbers": 2})
    assert {(v.metric, v.value) for v in violations} == {("hit@3", None), ("invented_numbers", 2.0)}
    assert any("missing" in v.message() for v in violations)
    # a JSON null (the evaluation produced nothing) or a boolean is not a number
    assert len(evaluate(CHECK, {"hit@3": None, "invented_numbers": False})) == 2


def test_the_committed_thresholds_load() -> None:
    checks = {c.name: c for c in load_thresholds()}
    assert {"summary", "calls"} <= set(checks)
    assert checks["calls"].maximum["ungrounded_numbers"] == 0
    assert checks["summary"].maximum == {"invented_numbers": 0, "promised_as_done": 0}
    assert all(c.command and (c.minimum or c.maximum) for c in checks.values())


def test_gate_exits_1_when_an_evaluation_is_below_its_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    limits = tmp_path / "thresholds.toml"
    limits.write_text('[fake]\ncommand = ["fake"]\n[fake.min]\n"hit@3" = 0.9\n', encoding="utf-8")
    monkeypatch.setattr(gate, "run_check", lambda check: {"hit@3": 0.5})
    assert gate.main(["--thresholds", str(limits)]) == 1
    out = capsys.readouterr()
    assert "GATE FAILED: fake: hit@3 = 0.5 < 0.9" in out.err
    assert json.loads(out.out.splitlines()[-1])["passed"] is False

    monkeypatch.setattr(gate, "run_check", lambda check: {"hit@3": 0.95})
    assert gate.main(["--thresholds", str(limits)]) == 0


def test_run_check_reads_the_last_json_line_and_reports_crashes(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    # the gate itself, with nothing to check, is an evaluation that ends with a JSON line
    assert gate.run_check(Check("self", ["gate", "--thresholds", str(empty)], {}, {})) == {
        "passed": True, "failures": []}
    with pytest.raises(RuntimeError, match="exited with 2"):
        gate.run_check(Check("typo", ["no-such-evaluation"], {}, {}))


def test_a_promise_listed_as_done_fails_the_summary_gate() -> None:
    summary = {c.name: c for c in load_thresholds()}["summary"]
    ok = {"fact_coverage": 0.95, "invented_numbers": 0, "promised_as_done": 0}
    assert evaluate(summary, ok) == []
    [violation] = evaluate(summary, {**ok, "promised_as_done": 1})
    assert (violation.metric, violation.value, violation.kind) == ("promised_as_done", 1.0, "max")
    assert violation.message() == "summary: promised_as_done = 1 > 0 (the maximum in eval/thresholds.toml)"
