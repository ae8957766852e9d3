"""Negative-sentiment runs that also count hostile wording through the paraphrase matcher (``paraphrase_share``):
verdicts wait for their scores and are counted in turn order whatever order the scores arrive in."""

from __future__ import annotations

import pytest

from assist.alerts.engine import AlertEngine, FinalTurn, ParaphraseScore
from assist.alerts.rules import DEFAULT_RULES_FILE, AlertRulesError, load_rules, parse_rules

RULES = load_rules(DEFAULT_RULES_FILE)
THRESHOLD = 0.06  # the calibrated paraphrase similarity the share applies to
# Hostile in intent, neutral to the sentiment lexicon: only the paraphrase scores can call them negative.
PLAIN = ("そちらの会社のやり方はよく分かりました", "今日のお話は全部メモしておきます", "このやりとりはしっかり覚えておきます",
         "担当の方のお名前をもう一度伺えますか")


def finals(texts: tuple[str, ...] = PLAIN) -> list[FinalTurn]:
    return [FinalTurn(f"c{i}", "customer", t, i * 6.0, i * 6.0 + 4.0, i) for i, t in enumerate(texts)]


def score(best: float) -> ParaphraseScore:
    return ParaphraseScore({"threat": best, "verbal_abuse": best / 2}, {"threat": "x", "verbal_abuse": "y"})


def negative_rule_alerts(alerts: list) -> list[tuple[str, int]]:
    return [(a.utterance_id, a.turn) for a in alerts if a.rule == "negative-sentiment"]


def scored(engine: AlertEngine, turns: list[FinalTurn], best: float,
           similarity: float | None = THRESHOLD) -> list[tuple[str, int]]:
    """Each final observed, then its paraphrase scores (best ``best``) handed back at once: the run alerts raised."""
    raised = []
    for final in turns:
        obs = engine.observe(RULES, final, paraphrases=True)
        raised += negative_rule_alerts(obs.alerts + engine.paraphrased(RULES, final, score(best), similarity,
                                                                       obs.paraphrase))
    return raised


def test_the_default_rule_counts_paraphrases_at_a_third_of_the_threshold() -> None:
    rule = next(r for r in RULES.rules if r.id == "negative-sentiment")
    assert rule.paraphrase_share == pytest.approx(0.33) and rule.turns == 3


def test_three_hostile_finals_by_paraphrase_raise_the_run_alert() -> None:
    engine = AlertEngine("c")
    raised = []
    turns = finals()[:3]
    for final in turns:
        obs = engine.observe(RULES, final, paraphrases=True)
        assert obs.sentiment is not None and obs.sentiment.score > -0.4, "the lexicon alone finds nothing"
        assert obs.paraphrase, "the final is sent for paraphrase scoring"
        raised += negative_rule_alerts(obs.alerts)
        raised += negative_rule_alerts(engine.paraphrased(RULES, final, score(0.03), THRESHOLD, obs.paraphrase))
    assert raised == [("c2", 2)], "fires on the third negative final, once"


def test_scores_below_the_share_leave_the_run_unbroken_by_nothing() -> None:
    assert scored(AlertEngine("c"), finals()[:3], 0.015) == [], "0.015 < 0.33 × 0.06"


def test_verdicts_are_counted_in_turn_order_when_scores_arrive_out_of_order() -> None:
    engine = AlertEngine("c")
    turns = finals()[:3]
    wants = [engine.observe(RULES, f, paraphrases=True).paraphrase for f in turns]
    assert negative_rule_alerts(engine.paraphrased(RULES, turns[2], score(0.05), THRESHOLD, wants[2])) == []
    assert negative_rule_alerts(engine.paraphrased(RULES, turns[0], score(0.05), THRESHOLD, wants[0])) == []
    last = engine.paraphrased(RULES, turns[1], score(0.05), THRESHOLD, wants[1])
    assert negative_rule_alerts(last) == [("c2", 2)], "the third final completes the run, whenever it settles"
    assert next(a for a in last if a.rule == "negative-sentiment").at == pytest.approx(turns[2].end)


def test_an_unscored_final_falls_back_to_the_lexicon_and_breaks_the_run() -> None:
    engine = AlertEngine("c")
    raised = []
    turns = finals()
    for i, final in enumerate(turns):
        obs = engine.observe(RULES, final, paraphrases=True)
        if i == 1:
            raised += engine.unscored(RULES, final)  # e.g. the embedder failed: neutral by the lexicon
        else:
            raised += engine.paraphrased(RULES, final, score(0.05), THRESHOLD, obs.paraphrase)
    assert negative_rule_alerts(raised) == [], "negative, neutral, negative, negative: no run of three"


def test_without_paraphrase_scoring_the_lexicon_decides_at_once() -> None:
    engine = AlertEngine("c")
    raised = []
    for final in finals(("もう最悪です、本当に腹が立つ", "ありえない、ひどすぎる", "話にならない、最低の対応だ")):
        raised += engine.observe(RULES, final).alerts
    assert negative_rule_alerts(raised) == [("c2", 2)]


def test_an_uncalibrated_embedder_counts_no_paraphrase() -> None:
    assert scored(AlertEngine("c"), finals()[:3], 0.9, similarity=None) == []


@pytest.mark.parametrize("value", ["0", "1.5", "-0.2"])
def test_paraphrase_share_is_validated(value: str) -> None:
    with pytest.raises(AlertRulesError):
        parse_rules(f"""
[[rules]]
id = "neg"
condition = "negative_sentiment"
paraphrase_share = {value}
""")


def test_a_rule_dropped_while_a_verdict_waits_does_not_block_its_queue() -> None:
    engine = AlertEngine("c")
    without = parse_rules("""
[[rules]]
id = "kasuhara-abuse"
condition = "abuse"
paraphrase = true
""")
    first, *rest = finals()
    obs = engine.observe(RULES, first, paraphrases=True)
    engine.paraphrased(without, first, score(0.05), THRESHOLD, obs.paraphrase)  # the rules file dropped the run rule
    # the rule is back: three negative finals must still make a run
    assert scored(engine, rest, 0.05) == [("c3", 3)], "the stale verdict did not stall the queue"
