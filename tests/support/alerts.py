"""What the text alert rules raise on a few finals: the helper the lexicon tests share."""

from __future__ import annotations

from collections.abc import Sequence

from assist.alerts.engine import AlertEngine, FinalTurn
from assist.alerts.rules import DEFAULT_RULES_FILE, RuleSet, load_rules

RULES = load_rules(DEFAULT_RULES_FILE)
TIMING = ("silence", "overtalk", "speaking_rate")


def text_alerts(turns: Sequence[tuple[str, str]], language: str = "ja",
                rules: RuleSet = RULES) -> list[tuple[str, str | None, int]]:
    """(rule, category, turn) of every text alert, turns 5 s apart (timing rules left out)."""
    engine = AlertEngine("c")
    out = []
    for i, (leg, text) in enumerate(turns):
        final = FinalTurn(f"u{i}", leg, text, i * 5.0, i * 5.0 + 4.0, i, language)
        out += [(a.rule, a.category, i) for a in engine.observe(rules, final).alerts if a.condition not in TIMING]
    return out
