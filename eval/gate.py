"""``python -m eval gate [--thresholds eval/thresholds.toml] [--only NAME ...]``: the CI quality gate.

Runs each evaluation named in the thresholds file (its ``command`` is a ``python -m eval`` command line
whose last stdout line is a JSON object) and compares the headline metrics with the file's ``min`` /
``max`` limits. Exit 0 when every metric is within its limit, 1 otherwise, naming metric, value and limit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_THRESHOLDS = Path(__file__).with_name("thresholds.toml")


@dataclass(frozen=True, slots=True)
class Check:
    """One evaluation: how to run it and the limits on its headline metrics."""

    name: str
    command: list[str]
    minimum: dict[str, float]
    maximum: dict[str, float]
    timeout_s: float = 300.0


@dataclass(frozen=True, slots=True)
class Violation:
    check: str
    metric: str
    value: float | None
    limit: float
    kind: Literal["min", "max"]

    def message(self) -> str:
        if self.value is None:
            return f"{self.check}: {self.metric} is missing from the results (limit: {self.kind} {self.limit:g})"
        op = "<" if self.kind == "min" else ">"
        return (f"{self.check}: {self.metric} = {self.value:g} {op} {self.limit:g} "
                f"(the {self.kind}imum in eval/thresholds.toml)")


def load_thresholds(path: Path = DEFAULT_THRESHOLDS) -> list[Check]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    checks = []
    for name, table in data.items():
        if not isinstance(table, dict) or "command" not in table:
            raise ValueError(f"{path}: [{name}] needs a `command`")
        checks.append(Check(name, [str(c) for c in table["command"]],
                            {k: float(v) for k, v in table.get("min", {}).items()},
                            {k: float(v) for k, v in table.get("max", {}).items()},
                            float(table.get("timeout_s", 300.0))))
    return checks


def evaluate(check: Check, metrics: Mapping[str, Any]) -> list[Violation]:
    """Every limit of ``check`` that ``metrics`` breaks; a missing or non-numeric metric breaks its limit."""
    out = []
    bounds: tuple[tuple[Literal["min", "max"], dict[str, float]], ...] = (("min", check.minimum),
                                                                           ("max", check.maximum))
    for kind, limits in bounds:
        for metric, limit in limits.items():
            raw = metrics.get(metric)
            value = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
            if value is None or (value < limit if kind == "min" else value > limit):
                out.append(Violation(check.name, metric, value, limit, kind))
    return out


def run_check(check: Check) -> dict[str, Any]:
    """Run one evaluation and return the JSON object on its last stdout line."""
    proc = subprocess.run([sys.executable, "-m", "eval", *check.command], cwd=ROOT, capture_output=True,
                          text=True, timeout=check.timeout_s)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.splitlines()[-15:])
        raise RuntimeError(f"`python -m eval {' '.join(check.command)}` exited with {proc.returncode}:\n{tail}")
    result = json.loads(lines[-1])
    if not isinstance(result, dict):
        raise RuntimeError(f"`python -m eval {check.command[0]}` did not end with a JSON object")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval gate", description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", type=Path, default=DEFAULT_THRESHOLDS)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these checks")
    args = parser.parse_args(argv)

    checks = [c for c in load_thresholds(args.thresholds) if not args.only or c.name in args.only]
    failures: list[str] = []
    for check in checks:
        started = time.monotonic()
        try:
            metrics = run_check(check)
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
            failures.append(f"{check.name}: the evaluation failed: {exc}")
            print(f"gate {check.name:10s} ERROR", flush=True)
            continue
        violations = evaluate(check, metrics)
        failures += [v.message() for v in violations]
        shown = {m: metrics.get(m) for m in [*check.minimum, *check.maximum]}
        print(f"gate {check.name:10s} {'ok  ' if not violations else 'FAIL'} "
              f"({time.monotonic() - started:.0f} s) {json.dumps(shown, ensure_ascii=False)}", flush=True)
    for failure in failures:
        print(f"GATE FAILED: {failure}", file=sys.stderr)
    print(json.dumps({"passed": not failures, "failures": failures}, ensure_ascii=False))
    return 1 if failures else 0
