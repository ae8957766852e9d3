"""Score a replayed call's ``alert`` and ``checklist`` events against what its script expects (issue 16).

An expected alert (``CallSpec.alerts``) names a rule (or any rule of a condition, optionally a カスハラ category)
and the turn whose final should raise it. A raised alert belongs to the turn of its ``utterance_id`` (the final
the rule fired on: for overtalk, the turn that talked over). It is *raised* when an alert of that rule is on that
turn, and *on time* when it arrived within ``DELAY_TARGET_S`` of the end of the turn's speech, measured like the
card latencies (client receive time from ``call_started``; audio replays include the recognizer's final latency,
text replays only the service's own path). An alert that matches no expectation is a *false* alert on a turn
where none was expected (on a calm call, ``alerts`` ``None``, every alert is), and an *extra* one on a turn where
another was (a second category for one abusive sentence, a paraphrase beside a lexicon hit). The checklist's state is its last ``checklist`` event (the notes'
copy when none came); an item never added to the call's list counts as not done.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eval.callset import CallSpec, ExpectedAlert, Timeline
from eval.stats import percentile

DELAY_TARGET_S = 2.0  # issue 16: every expected alert within 2 s of its turn
CHECKLIST_TARGET = 0.9  # issue 16: checklist states right on ≥ 90 % of the items

Received = tuple[float, dict[str, Any]]


@dataclass(slots=True)
class RaisedAlert:
    """One ``alert`` event as the widget and the wall saw it."""

    rule: str
    condition: str
    category: str | None
    turn: int | None
    """The scripted turn of its final (None: its final matched no turn)."""
    at_s: float
    """Seconds from ``call_started`` to its arrival."""
    expected: bool = False


@dataclass(slots=True)
class AlertCheck:
    """One expected alert and what came of it."""

    label: str
    turn: int
    raised: bool = False
    delay_s: float | None = None
    """From the end of the turn's speech to the alert's arrival."""

    @property
    def on_time(self) -> bool:
        return self.raised and self.delay_s is not None and self.delay_s <= DELAY_TARGET_S


@dataclass(slots=True)
class ItemCheck:
    id: str
    expected: bool
    done: bool

    @property
    def correct(self) -> bool:
        return self.expected == self.done


@dataclass(slots=True)
class AlertResult:
    """A call's alerts: every expectation, every alert raised, and its checklist against the script's."""

    escalation: bool
    """The call lists expected alerts (an empty list included); False: a calm call."""
    checks: list[AlertCheck] = field(default_factory=list)
    raised: list[RaisedAlert] = field(default_factory=list)
    checklist: list[ItemCheck] = field(default_factory=list)

    @property
    def false_alerts(self) -> list[RaisedAlert]:
        """Alerts on turns where no alert was expected."""
        wanted = {c.turn for c in self.checks}
        return [a for a in self.raised if not a.expected and a.turn not in wanted]

    @property
    def extra_alerts(self) -> list[RaisedAlert]:
        """Unexpected alerts on a turn that expected another one."""
        wanted = {c.turn for c in self.checks}
        return [a for a in self.raised if not a.expected and a.turn in wanted]


def _matches(want: ExpectedAlert, alert: RaisedAlert) -> bool:
    return (alert.turn == want.turn and (want.rule is None or want.rule == alert.rule)
            and (want.condition is None or want.condition == alert.condition)
            and (want.category is None or want.category == alert.category))


def _final_state(received: Sequence[Received]) -> dict[str, bool]:
    """Item id -> done, from the last ``checklist`` event, else the notes' ``checklist``."""
    items: list[dict[str, Any]] | None = None
    for _, e in received:
        if e.get("type") == "checklist":
            items = e.get("items") or []
        elif e.get("type") == "summary" and items is None:
            items = (e.get("notes") or {}).get("checklist") or []
    return {str(i["id"]): bool(i.get("done")) for i in items or []}


def score_alerts(call: CallSpec, timeline: Timeline, received: Sequence[Received], turn_of: Mapping[str, int],
                 t0: float) -> AlertResult:
    """``turn_of``: utterance id -> scripted turn (the finals as ``callscore.score_call`` matched them)."""
    result = AlertResult(escalation=call.alerts is not None)
    for recv, e in received:
        if e.get("type") == "alert":
            result.raised.append(RaisedAlert(str(e.get("rule")), str(e.get("condition")), e.get("category"),
                                             turn_of.get(str(e.get("utterance_id"))), round(recv - t0, 3)))
    ends = {s.index: s.speech_end for s in timeline.spans}
    for want in call.alerts or []:
        check = AlertCheck(want.label(), want.turn)
        match = next((a for a in result.raised if not a.expected and _matches(want, a)), None)
        if match is not None:
            match.expected = True
            check.raised = True
            check.delay_s = round(max(0.0, match.at_s - ends[want.turn]), 3)
        result.checks.append(check)
    if call.checklist is not None:
        state = _final_state(received)
        result.checklist = [ItemCheck(item, want, state.get(item, False)) for item, want in call.checklist.items()]
    return result


def summarize(results: Sequence[AlertResult | None]) -> dict[str, Any]:
    """The alert and checklist figures of ``eval calls``' JSON summary."""
    scored = [r for r in results if r is not None]
    checks = [c for r in scored for c in r.checks]
    raised = [c for c in checks if c.raised]
    delays = [c.delay_s for c in raised if c.delay_s is not None]
    false = [a for r in scored for a in r.false_alerts]
    calm = [r for r in scored if not r.escalation]
    items = [i for r in scored for i in r.checklist]
    return {
        "alerts_expected": len(checks),
        "alerts_raised_expected": len(raised),
        "alert_recall": round(len(raised) / len(checks), 4) if checks else None,
        "alerts_on_time": sum(c.on_time for c in checks),
        "alert_on_time_rate": round(sum(c.on_time for c in checks) / len(checks), 4) if checks else None,
        "alert_delay_s_p50": percentile(delays, 50),
        "alert_delay_s_p95": percentile(delays, 95),
        "alert_delay_s_max": round(max(delays), 3) if delays else None,
        "alerts_raised": sum(len(r.raised) for r in scored),
        "false_alerts": len(false),
        "false_alerts_calm": sum(len(r.raised) for r in calm),
        "false_alerts_by_rule": dict(sorted(Counter(a.rule for a in false).items())),
        "extra_alerts": sum(len(r.extra_alerts) for r in scored),
        "n_escalation_calls": len(scored) - len(calm),
        "n_calm_calls": len(calm),
        "checklist_items": len(items),
        "checklist_correct": sum(i.correct for i in items),
        "checklist_accuracy": round(sum(i.correct for i in items) / len(items), 4) if items else None,
    }


def alert_rows(calls: Sequence[CallSpec], results: Sequence[AlertResult | None]) -> dict[str, list[dict[str, Any]]]:
    """The report's tables: every expected alert, every unexpected one, every checklist item scored wrong."""
    expected, unexpected, checklist = [], [], []
    for call, result in zip(calls, results, strict=True):
        if result is None:
            continue
        said = {t.index: t.text for t in call.turns}
        for c in result.checks:
            expected.append({"call": call.id, "turn": c.turn, "said": said.get(c.turn, ""), "alert": c.label,
                             "raised": c.raised, "delay_s": c.delay_s, "on_time": c.on_time})
        for kind, alerts in (("false", result.false_alerts), ("extra", result.extra_alerts)):
            unexpected += [{"call": call.id, "turn": a.turn, "said": said.get(a.turn, "") if a.turn is not None else "",
                            "rule": a.rule, "category": a.category, "kind": kind} for a in alerts]
        checklist += [{"call": call.id, "item": i.id, "expected": i.expected, "done": i.done}
                      for i in result.checklist if not i.correct]
    return {"expected": expected, "unexpected": unexpected, "checklist_wrong": checklist}
