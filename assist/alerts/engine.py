"""The per-call alert engine: pure, fed one final at a time, returns the alerts it fires.

No I/O and no clock: every time is the call's audio time (seconds from call start, as the finals carry it), so
the same finals fire the same alerts live, in replays and in tests. A rule's cool-down is kept per rule and per
category (an abuse rule that fired for 暴言 may still fire for 脅迫 at once). Paraphrase matching needs the
embedder, so ``observe`` only says which rules want it (``Observation.paraphrase``); the caller runs the matcher
off the event loop and hands its scores to ``paraphrased`` (or says it could not score the final: ``unscored``). A
negative-sentiment rule with ``paraphrase_share`` also counts a customer final as negative when its best カスハラ
paraphrase score reaches that share of the calibrated threshold (hostile wording the sentiment lexicon scores 0): such
a final's verdict waits for its scores, and the run is counted over verdicts in turn order, whenever they arrive.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from asr.base import Leg
from assist.alerts.lexicon import CATEGORY_NAMES, compact_form
from assist.alerts.measure import speaking_rate
from assist.alerts.rules import (
    AbuseRule,
    NegativeSentimentRule,
    OvertalkRule,
    PhraseRule,
    RuleSet,
    SilenceRule,
    SpeakingRateRule,
)
from assist.alerts.sentiment import Sentiment, score_sentiment
from assist.events import AlertEvent, AlertText

_RECENT = 8  # finals kept per leg for overtalk (a leg's finals arrive in order; the other leg's may lag)
_MATCHED_CHARS = 60

DEFAULT_MESSAGES: dict[str, tuple[str, str]] = {
    "abuse": ("カスハラの可能性（{category}）:「{matched}」", "Possible customer harassment ({category}): \u201c{matched}\u201d"),
    "manager_request": ("責任者への交代を求められています:「{matched}」", "The customer asks for a manager: \u201c{matched}\u201d"),
    "cancellation": ("解約・乗り換えの意向:「{matched}」", "Cancellation or switching intent: \u201c{matched}\u201d"),
    "keywords": ("キーワードを検知:「{matched}」", "Keyword detected: \u201c{matched}\u201d"),
    "negative_sentiment": ("お客様の否定的な発言が{turns}回続いています", "Negative customer sentiment for {turns} turns in a row"),
    "silence": ("{value}秒の沈黙", "{value} s of silence"),
    "overtalk": ("発話が{value}秒重なりました", "Talk-over for {value} s"),
    "speaking_rate": ("話す速度が速すぎます（{value}/秒）", "Speaking fast ({value} per second)"),
}
_LEG_NAMES = {"customer": ("お客様", "customer"), "agent": ("オペレーター", "agent"), None: ("", "")}


@dataclass(frozen=True, slots=True)
class FinalTurn:
    """One final as the engine sees it: masked text, audio times, its index among the call's finals."""

    utterance_id: str
    leg: Leg
    text: str
    start: float
    end: float
    turn: int
    language: str = "ja"


@dataclass(frozen=True, slots=True)
class ParaphraseScore:
    """The best paraphrase similarity of a final per abuse category (``paraphrase.Paraphraser.score``)."""

    scores: Mapping[str, float]  # category -> best cosine over its examples
    examples: Mapping[str, str]  # category -> the example that scored it


@dataclass
class _Verdict:
    """One customer final's place in a negative-sentiment run: ``negative`` is None while its paraphrase scores
    are awaited."""

    final: FinalTurn
    score: float
    negative: bool | None
    short: bool  # neutral and short (はい, okay): neither counts nor breaks the run


@dataclass
class Observation:
    alerts: list[AlertEvent] = field(default_factory=list)
    sentiment: Sentiment | None = None  # customer finals only
    paraphrase: tuple[str, ...] = ()  # ids of abuse rules that want this final's paraphrase scores


class AlertEngine:
    """One call's alert state: cool-downs, the negative-sentiment runs, the last finals of each leg."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self._fired: dict[tuple[str, str], float] = {}  # (rule id, category) -> audio time it last fired
        self._runs: dict[str, int] = {}  # negative-sentiment rule id -> consecutive negative turns
        self._verdicts: dict[str, deque[_Verdict]] = {}  # negative-sentiment rule id -> verdicts not yet counted
        self._recent: dict[str, deque[FinalTurn]] = {"customer": deque(maxlen=_RECENT), "agent": deque(maxlen=_RECENT)}
        self._last_end: float | None = None
        self.fired_total = 0

    def observe(self, rules: RuleSet, final: FinalTurn, *, paraphrases: bool = False) -> Observation:
        """Every rule against one (non-empty) final; updates the call's state. ``paraphrases``: the caller will
        score the finals ``Observation.paraphrase`` names and report back (``paraphrased`` / ``unscored``)."""
        obs = Observation()
        if final.leg == "customer":
            obs.sentiment = score_sentiment(final.text)
        wants: list[str] = []
        sentiment_rules: list[NegativeSentimentRule] = []
        for rule in rules.rules:
            if rule.languages is not None and final.language not in rule.languages:
                continue
            if isinstance(rule, AbuseRule):
                if self._abuse(rule, rules, final, obs) is False and rule.paraphrase and _applies(rule.leg, final.leg):
                    wants.append(rule.id)
            elif isinstance(rule, PhraseRule):
                self._phrase(rule, rules, final, obs)
            elif isinstance(rule, NegativeSentimentRule):
                sentiment_rules.append(rule)
            elif isinstance(rule, SilenceRule):
                self._silence(rule, final, obs)
            elif isinstance(rule, OvertalkRule):
                self._overtalk(rule, final, obs)
            elif isinstance(rule, SpeakingRateRule):
                self._rate(rule, final, obs)
        obs.paraphrase = tuple(wants) if len(compact_form(final.text)) >= 4 else ()
        for rule in sentiment_rules:
            self._sentiment(rule, final, obs, awaits=paraphrases and bool(obs.paraphrase))
        self._last_end = final.end if self._last_end is None else max(self._last_end, final.end)
        self._recent[final.leg].append(final)
        return obs

    def paraphrased(self, rules: RuleSet, final: FinalTurn, found: ParaphraseScore, default_similarity: float | None,
                    rule_ids: tuple[str, ...]) -> list[AlertEvent]:
        """Alerts of the abuse rules in ``rule_ids`` whose paraphrase similarity passed their threshold."""
        obs = Observation()
        by_id = {r.id: r for r in rules.rules}
        self._resolve(rules, final, obs, best=max(found.scores.values(), default=None),
                      default_similarity=default_similarity)
        for rid in rule_ids:
            rule = by_id.get(rid)
            if not isinstance(rule, AbuseRule):
                continue  # the rules changed meanwhile
            threshold = rule.similarity if rule.similarity is not None else default_similarity
            if threshold is None:
                continue
            passing = [(s, c) for c, s in found.scores.items() if c in rule.categories and s >= threshold]
            if not passing:
                continue
            score, category = max(passing)
            self._fire(rule, final, obs, category=category, matched=_clip(final.text), value=round(score, 3),
                       at=final.end, guess=True)
        return obs.alerts

    def unscored(self, rules: RuleSet, final: FinalTurn) -> list[AlertEvent]:
        """The final named for paraphrase scoring could not be scored (too short, or the embedder failed): its
        sentiment verdict falls back to the lexicon's."""
        obs = Observation()
        self._resolve(rules, final, obs, best=None, default_similarity=None)
        return obs.alerts

    # ------------------------------------------------------------ conditions

    def _abuse(self, rule: AbuseRule, rules: RuleSet, final: FinalTurn, obs: Observation) -> bool:
        """Fires per category found; ``True`` when the lexicon found any (no paraphrase check needed)."""
        matcher = rules.matchers.get(rule.id)
        if matcher is None or not _applies(rule.leg, final.leg):
            return False
        hits = matcher.find_all(final.text)
        for hit in hits:
            self._fire(rule, final, obs, category=hit.key, matched=hit.clause, at=final.end)
        return bool(hits)

    def _phrase(self, rule: PhraseRule, rules: RuleSet, final: FinalTurn, obs: Observation) -> None:
        matcher = rules.matchers.get(rule.id)
        if matcher is None or not _applies(rule.leg, final.leg):
            return
        hit = matcher.find(final.text)
        if hit is not None:
            self._fire(rule, final, obs, matched=hit.clause, at=final.end)

    def _sentiment(self, rule: NegativeSentimentRule, final: FinalTurn, obs: Observation, *, awaits: bool) -> None:
        if final.leg != "customer" or obs.sentiment is None:
            return
        score = obs.sentiment.score
        negative = score <= rule.threshold
        short = not negative and score <= 0 and len(compact_form(final.text)) < rule.ignore_below_chars
        pending = awaits and rule.paraphrase_share is not None and not negative and not short
        self._verdicts.setdefault(rule.id, deque()).append(_Verdict(final, score, None if pending else negative, short))
        self._count(rule, obs)

    def _resolve(self, rules: RuleSet, final: FinalTurn, obs: Observation, *, best: float | None,
                 default_similarity: float | None) -> None:
        """Settle ``final``'s pending verdicts with its best paraphrase score (``None``: the lexicon's alone); a rule
        the rules file dropped meanwhile settles them as not negative, so none blocks its queue if it comes back."""
        current = {r.id: r for r in rules.rules if isinstance(r, NegativeSentimentRule)}
        for rule_id, queue in self._verdicts.items():
            rule = current.get(rule_id)
            share = rule.paraphrase_share if rule is not None else None
            for verdict in queue:
                if verdict.final.utterance_id == final.utterance_id and verdict.negative is None:
                    verdict.negative = (best is not None and share is not None and default_similarity is not None
                                        and best >= share * default_similarity)
            if rule is not None:
                self._count(rule, obs)

    def _count(self, rule: NegativeSentimentRule, obs: Observation) -> None:
        """Count the settled verdicts at the front of the queue, in turn order."""
        queue = self._verdicts.get(rule.id)
        while queue and queue[0].negative is not None:
            verdict = queue.popleft()
            if verdict.short:
                continue  # はい / okay: neither negative nor a break in the run
            self._runs[rule.id] = self._runs.get(rule.id, 0) + 1 if verdict.negative else 0
            if self._runs[rule.id] >= rule.turns and self._fire(rule, verdict.final, obs, value=verdict.score,
                                                                at=verdict.final.end, turns=rule.turns):
                self._runs[rule.id] = 0

    def _silence(self, rule: SilenceRule, final: FinalTurn, obs: Observation) -> None:
        if self._last_end is None:
            return
        gap = final.start - self._last_end
        if gap >= rule.min_s:
            self._fire(rule, final, obs, value=round(gap, 1), at=final.start)

    def _overtalk(self, rule: OvertalkRule, final: FinalTurn, obs: Observation) -> None:
        other = "agent" if final.leg == "customer" else "customer"
        for prev in self._recent[other]:
            overlap = min(prev.end, final.end) - max(prev.start, final.start)
            if overlap < rule.min_s:
                continue
            later = final if final.start >= prev.start else prev  # who started talking over the other
            if _applies(rule.leg, later.leg):
                self._fire(rule, later, obs, value=round(overlap, 1), at=max(prev.start, final.start))
                return

    def _rate(self, rule: SpeakingRateRule, final: FinalTurn, obs: Observation) -> None:
        duration = final.end - final.start
        if final.leg != rule.leg or duration < rule.min_duration_s:
            return
        rate = speaking_rate(final.text, duration, rule.unit)
        if rate is not None and rate > rule.max_rate:
            self._fire(rule, final, obs, value=round(rate, 1), at=final.end)

    # ------------------------------------------------------------ firing

    def _fire(self, rule: Any, final: FinalTurn, obs: Observation, *, at: float, category: str | None = None,
              matched: str | None = None, value: float | None = None, turns: int | None = None,
              guess: bool = False) -> bool:
        """``guess``: a paraphrase alert. It waits out the cool-down of any alert of its rule and category, but
        starts only its own: a later lexicon hit (a phrase actually said) is never held back by a guess."""
        key = (rule.id, category or "")
        own = (rule.id, f"~{category or ''}") if guess else key
        for last in {self._fired.get(key), self._fired.get(own)}:
            if last is not None and at - last < rule.cooldown_s:
                return False
        self._fired[own] = at
        self.fired_total += 1
        obs.alerts.append(AlertEvent(
            call_id=self.call_id, rule=rule.id, condition=rule.condition, severity=rule.severity, category=category,
            message=_message(rule, category=category, matched=matched, value=value, turns=turns, leg=final.leg),
            utterance_id=final.utterance_id, turn=final.turn, leg=final.leg, at=round(at, 2), matched=matched,
            value=value, notify_agent=rule.notify_agent))
        return True


def _applies(choice: str, leg: str) -> bool:
    return choice == "any" or choice == leg


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MATCHED_CHARS else text[:_MATCHED_CHARS - 1] + "…"


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _message(rule: Any, *, category: str | None, matched: str | None, value: float | None, turns: int | None,
             leg: str | None) -> AlertText:
    ja, en = (rule.message.ja, rule.message.en) if rule.message is not None else DEFAULT_MESSAGES[rule.condition]
    names = CATEGORY_NAMES.get(category or "", ("", ""))
    legs = _LEG_NAMES.get(leg, ("", ""))
    common = {"matched": matched or "", "value": "" if value is None else f"{value:g}",
              "turns": "" if turns is None else str(turns)}
    return AlertText(ja=ja.format_map(_Blank(common, category=names[0], leg=legs[0])),
                     en=en.format_map(_Blank(common, category=names[1], leg=legs[1])))
