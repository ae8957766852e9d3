"""``python -m eval alert-phrases --split dev|test [--paraphrase] [--show-misses] [--json]``

The text alert rules (カスハラ, manager requests, cancellation threats) on single customer sentences: each row of
``eval/data/alert_phrases.jsonl`` is one final, said alone to a fresh engine with the default rules. A row names the
rule (and カスハラ category) it should raise, or none: a calm lookalike (上司 in a story, how much 解約 costs, a review
read online), on which any alert is false. The escalation calls measure the rules in a call's flow and timing; this
list measures wording, many ways of saying each thing, in a second. ``--paraphrase`` also runs the embedder's
paraphrase matcher as a live call does. Rows are written per split apart from each other and from the rules; tune on
``dev``, read ``test`` as counts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from assist.alerts.engine import AlertEngine, FinalTurn
from assist.alerts.paraphrase import Paraphraser
from assist.alerts.rules import DEFAULT_RULES_FILE, RuleSet, load_rules
from assist.events import AlertEvent

DATA = Path(__file__).resolve().parent / "data" / "alert_phrases.jsonl"


@dataclass(frozen=True)
class PhraseRow:
    split: str
    language: str
    rule: str | None
    category: str | None
    text: str

    @property
    def label(self) -> str:
        return "calm" if self.rule is None else f"{self.rule}/{self.category}" if self.category else self.rule


class BadRow(ValueError):
    """A row of the sentence list that is not {split, language, rule, category, text}."""


def read_rows(path: Path, split: str) -> list[PhraseRow]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = PhraseRow(**json.loads(line))
        except (ValueError, TypeError) as exc:
            raise BadRow(f"{path}:{n}: bad_phrase_row: {exc}") from exc
        if row.split not in ("dev", "test") or row.language not in ("ja", "en") or not str(row.text).strip():
            raise BadRow(f"{path}:{n}: bad_phrase_row: split dev|test, language ja|en and a text are required")
        rows.append(row)
    return [r for r in rows if r.split == split]


def raised(row: PhraseRow, rules: RuleSet, paraphraser: Paraphraser | None) -> list[AlertEvent]:
    """The alerts one final raises on a fresh engine (lexicon rules, then paraphrases when a matcher is given)."""
    engine = AlertEngine("phrase")
    final = FinalTurn("c0", "customer", row.text, 0.0, 3.0, 0, row.language)
    obs = engine.observe(rules, final, paraphrases=paraphraser is not None)
    alerts = list(obs.alerts)
    if paraphraser is not None and obs.paraphrase:
        found = paraphraser.score(row.text)
        alerts += (engine.unscored(rules, final) if found is None
                   else engine.paraphrased(rules, final, found, paraphraser.default_similarity, obs.paraphrase))
    return alerts


def hit(row: PhraseRow, alerts: list[AlertEvent]) -> bool:
    return any(a.rule == row.rule and (row.category is None or a.category == row.category) for a in alerts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval alert-phrases", description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test"), required=True, help="tune on dev, report test")
    parser.add_argument("--rows", type=Path, default=DATA, help="the sentence list (default: %(default)s)")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES_FILE, help="rules file (default: the shipped one)")
    parser.add_argument("--paraphrase", action="store_true", help="also the embedder's paraphrase matcher")
    parser.add_argument("--config", type=Path, help="settings TOML (names the embedder)")
    parser.add_argument("--show-misses", action="store_true", help="print each missed row and each false alert")
    parser.add_argument("--json", action="store_true", help="print only the JSON summary")
    args = parser.parse_args(argv)
    try:
        rows = read_rows(args.rows, args.split)
    except (OSError, BadRow) as exc:
        print(exc, file=sys.stderr)
        return 2
    rules = load_rules(args.rules)
    paraphraser = None
    if args.paraphrase:
        from config import load_settings
        from models import ModelRegistry
        from retrieval.embedders import build_embedder

        settings = load_settings(args.config)
        embedder = build_embedder(settings.retrieval, ModelRegistry(settings.models_dir))
        embedder.load()
        paraphraser = Paraphraser(embedder)
    expected, caught, calm, false = Counter[str](), Counter[str](), 0, 0
    for row in rows:
        alerts = raised(row, rules, paraphraser)
        if row.rule is None:
            calm += 1
            false += bool(alerts)
            if alerts and args.show_misses:
                print(f"false {[(a.rule, a.category) for a in alerts]}: {row.text}")
            continue
        expected[row.label] += 1
        if hit(row, alerts):
            caught[row.label] += 1
        elif args.show_misses:
            print(f"missed {row.label} (raised {[(a.rule, a.category) for a in alerts]}): {row.text}")
    if not args.json:
        for label in sorted(expected):
            print(f"{label:40s} {caught[label]}/{expected[label]}")
    total = sum(expected.values())
    print(json.dumps({"split": args.split, "paraphrase": args.paraphrase, "expected": total,
                      "raised": sum(caught.values()), "recall": round(sum(caught.values()) / total, 4) if total else None,
                      "calm": calm, "false": false}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
