"""``python -m assist.alerts check FILE…``: validate alert rules files before deploying them.

Prints each file's active rules, or every problem with its line and field path; exits 1 when any file is unusable.
``python -m assist.alerts test FILE TEXT…`` also shows what each text (a customer final) would fire.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assist.alerts.engine import AlertEngine, FinalTurn
from assist.alerts.rules import AlertRulesError, RuleSet, load_rules


def _load(path: Path) -> RuleSet | None:
    try:
        rules = load_rules(path)
    except AlertRulesError as exc:
        sys.stderr.write(exc.describe() + "\n")
        return None
    sys.stdout.write(f"{path}: {len(rules.rules)} active rule(s): {', '.join(r.id for r in rules.rules)}\n")
    return rules


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assist.alerts", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="Validate rules files")
    check.add_argument("files", nargs="+", type=Path)
    trial = sub.add_parser("test", help="Show what customer finals would fire")
    trial.add_argument("file", type=Path)
    trial.add_argument("texts", nargs="+")
    trial.add_argument("--language", choices=("ja", "en"), default="ja")
    args = parser.parse_args(argv)
    if args.command == "check":
        results = [_load(path) for path in args.files]
        return 0 if all(r is not None for r in results) else 1
    rules = _load(args.file)
    if rules is None:
        return 1
    engine = AlertEngine("test")
    for i, text in enumerate(args.texts):
        obs = engine.observe(rules, FinalTurn(f"customer-{i}", "customer", text, i * 5.0, i * 5.0 + 3.0, i,
                                              args.language))
        fired = ", ".join(f"{a.rule}/{a.category or a.condition}" for a in obs.alerts) or "-"
        score = f"{obs.sentiment.score:+.2f}" if obs.sentiment is not None else ""
        sys.stdout.write(f"{text}\n  sentiment {score}; alerts: {fired}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
