"""Score one replayed call from the events its widget received, against the call's script.

Times are the client's receive times (``time.monotonic()``), measured from the ``call_started`` event, which
arrives as the first audio frame leaves: that is what the agent experiences. A customer turn's window
opens when its speech starts and closes when the next customer turn starts speaking; a suggestion counts
for the turn whose utterance it answers and only if it arrives inside that window. The server never
re-sends a card already shown at the same or a better rank, so an expected article already on screen
counts as a hit too; the ``strict`` figures leave those out.

What the agent sees is scored per push (each ``suggestions`` event): is the card it puts on top an expected
article of the call (top-1 precision), and is it a junk push, answering a turn that expects no article (a
greeting, an identity answer, a closing). The panel is modelled as the widget's ``CardList.upsert`` keeps it
(``assist/static/js/cards.js``: a push's cards go on top in rank order, cards already shown move up, the rest
keep their order below; ``PANEL_VISIBLE`` stay unfolded), and read at the end of each request turn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from eval.alertscore import AlertResult, score_alerts
from eval.alertscore import summarize as alert_summary
from eval.asr import score as asr_score
from eval.callset import CallSpec, Timeline
from eval.stats import percentile
from summarize.numbers import number_values
from summarize.uncertain import without_flagged

PANEL_VISIBLE = 4  # cards the widget's suggestion list keeps unfolded (assist/static/js/app.js)

Received = tuple[float, dict[str, Any]]
"""(monotonic receive time, event as sent)."""

NotesScorer = Callable[[CallSpec, dict[str, Any], Sequence[str]], tuple[float, list[str], list[str], list[str]]]
"""(call, notes as sent, the final transcript of each turn) -> (fact coverage, facts missing, numbers not said in
the call, numbers not in the transcript). A number said wrongly by ASR is in the third list only: the notes
repeated what the service heard. One in the fourth list got past the fact check: the summarizer invented it."""


@dataclass(slots=True)
class TurnResult:
    index: int
    speaker: str
    reference: str
    hypothesis: str = ""
    expected: list[str] = field(default_factory=list)
    suggested: list[tuple[str, int]] = field(default_factory=list)
    """(article id, rank) pushed for this turn inside its window, in arrival order."""
    late: list[tuple[str, int]] = field(default_factory=list)
    """Cards for this turn that arrived after the next customer turn had started (too late to help)."""
    hit1: bool | None = None
    hit3: bool | None = None
    hit1_strict: bool | None = None
    hit3_strict: bool | None = None
    """Hits from this turn's window only (no card carried over from earlier turns)."""
    suggestion_latency_s: float | None = None
    final_latency_s: float | None = None
    on_screen: list[str] | None = None
    """Request turns: the panel's unfolded cards, top first, when the turn's window closed."""
    finals: list[tuple[float, float, str]] = field(default_factory=list)
    """(start, end, text) of each final the turn arrived as (seconds of its leg): ``eval gating`` replays them."""


@dataclass(slots=True)
class Push:
    """One ``suggestions`` event as the agent saw it."""

    at: float
    """Seconds from ``call_started``."""
    turn: int | None
    """The customer turn it answers (None: its utterance matched no turn)."""
    cards: list[str]
    """Its cards in rank order: the first is the one it puts on top of the panel."""
    top_expected: bool
    """The top card is an expected article of the call (of any turn)."""
    junk: bool
    """Its turn expects no article: pushed after a greeting, an identity answer, a closing …"""


@dataclass(slots=True)
class CallResult:
    id: str
    language: str
    turns: list[TurnResult]
    error_rate: float | None = None
    metric: str = "cer"
    fact_coverage: float | None = None
    invented_numbers: int | None = None
    missing_facts: list[str] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)
    ungrounded: list[str] = field(default_factory=list)
    wrong_stated: list[str] = field(default_factory=list)
    """Numbers never said that the notes state as fact (no 要確認 mark): the ones an agent would file."""
    wrong_flagged: list[str] = field(default_factory=list)
    """Numbers never said that the notes only carry marked 要確認 (the recognizer was unsure of them)."""
    summary_latency_s: float | None = None
    notes: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)
    pushes: list[Push] = field(default_factory=list)
    alerts: AlertResult | None = None
    """Alerts raised against the script's expectations, and its checklist (``eval/alertscore.py``)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rank_hit(suggested: Sequence[tuple[str, int]], expected: Sequence[str], k: int) -> bool:
    return any(a in expected and r <= k for a, r in suggested)


def upsert(panel: list[str], items: Sequence[tuple[str, int]]) -> list[str]:
    """The widget's suggestion list after a push (``CardList.upsert``, not a replace): the pushed cards on top
    in rank order, the cards already there that were not pushed below them in their old order."""
    pushed = [a for a, _ in sorted(items, key=lambda item: item[1])]
    return [*dict.fromkeys(pushed), *(a for a in panel if a not in pushed)]


PushEvent = tuple[float, int | None, list[tuple[str, int]]]
"""(seconds from ``call_started``, the customer turn it answers, its (article, rank) items)."""


def score_pushes(call: CallSpec, timeline: Timeline, pushes: Sequence[PushEvent],
                 turns: Sequence[TurnResult]) -> list[Push]:
    """Per push: top card expected, junk; per request turn: the panel when its window closed (``on_screen``)."""
    wanted = {a for ids in call.expected.values() for a in ids}
    out = []
    for at, index, items in pushes:
        cards = [a for a, _ in sorted(items, key=lambda item: item[1])]
        junk = index is None or not call.expected.get(index)
        out.append(Push(round(at, 3), index, cards, bool(cards) and cards[0] in wanted, junk))
    for turn in turns:
        if not turn.expected:
            continue
        deadline = timeline.next_customer_start(turn.index)
        panel: list[str] = []
        for at, _, items in pushes:
            if deadline is None or at < deadline:
                panel = upsert(panel, items)
        turn.on_screen = panel[:PANEL_VISIBLE]
    return out


def score_call(
    call: CallSpec, timeline: Timeline, received: Sequence[Received], notes_scorer: NotesScorer | None = None
) -> CallResult:
    """Everything the QA report says about one call."""
    turns = [TurnResult(t.index, t.speaker, t.text, expected=call.expected.get(t.index, [])) for t in call.turns]
    result = CallResult(call.id, call.language, turns, metric="cer" if call.language == "ja" else "wer")
    result.errors = [str(e.get("code")) for _, e in received if e.get("type") == "error"]
    t0 = next((t for t, e in received if e.get("type") == "call_started"), None)
    if t0 is None:  # the call never started: its expected alerts count as missed
        result.alerts = score_alerts(call, timeline, [], {}, 0.0)
        return result
    spans = {s.index: s for s in timeline.spans}

    finals: dict[str, int] = {}  # utterance id -> turn index
    pieces: dict[int, list[tuple[float, str, str, float]]] = {}  # turn -> (start, text, utterance id, end)
    last_final: dict[int, float] = {}
    for recv, e in received:
        if e.get("type") != "transcript" or not e.get("final"):
            continue
        at_turn = timeline.turn_at(e["leg"], float(e["start"]), float(e["end"]))
        if at_turn is None:
            continue
        if e["utterance_id"] in finals:  # sent again, more of it masked (a number read across finals)
            first = finals[e["utterance_id"]]
            pieces[first] = [(s, e["text"] if uid == e["utterance_id"] else t, uid, end)
                             for s, t, uid, end in pieces[first]]
            continue
        finals[e["utterance_id"]] = at_turn
        pieces.setdefault(at_turn, []).append((float(e["start"]), e["text"], e["utterance_id"], float(e["end"])))
        last_final[at_turn] = recv - t0
    sep = "" if call.language == "ja" else " "
    for turn in turns:
        turn.finals = [(round(start, 3), round(end, 3), text) for start, text, _, end in sorted(pieces.get(turn.index, []))]
        turn.hypothesis = sep.join(text for _, _, text in turn.finals).strip()
        if turn.index in last_final:
            turn.final_latency_s = max(0.0, last_final[turn.index] - spans[turn.index].speech_end)

    shown_before: list[tuple[float, str, int]] = []  # (arrival, article, rank) across the call
    pushes: list[PushEvent] = []
    for recv, e in received:
        if e.get("type") != "suggestions":
            continue
        at = recv - t0
        items = [(str(i["article_id"]), int(i["rank"])) for i in e.get("items", [])]
        index = finals.get(e.get("utterance_id", ""))
        pushes.append((at, index, items))
        if index is not None:
            deadline = timeline.next_customer_start(index)
            turn = turns[index]
            if deadline is None or at < deadline:
                if turn.suggestion_latency_s is None:
                    turn.suggestion_latency_s = max(0.0, at - spans[index].speech_end)
                turn.suggested.extend(items)
            else:
                turn.late.extend(items)
        shown_before.extend((at, a, r) for a, r in items)

    for turn in turns:
        if not turn.expected:
            continue
        turn.hit1_strict = _rank_hit(turn.suggested, turn.expected, 1)
        turn.hit3_strict = _rank_hit(turn.suggested, turn.expected, 3)
        on_screen = [(a, r) for at, a, r in shown_before if at < spans[turn.index].speech_start]
        turn.hit1 = turn.hit1_strict or _rank_hit(on_screen, turn.expected, 1)
        turn.hit3 = turn.hit3_strict or _rank_hit(on_screen, turn.expected, 3)
    result.pushes = score_pushes(call, timeline, pushes, turns)
    result.alerts = score_alerts(call, timeline, received, finals, t0)

    refs = [t.reference for t in turns]
    result.error_rate = round(asr_score(refs, [t.hypothesis for t in turns], call.language), 4)

    ended = timeline.duration
    for recv, e in received:
        if e.get("type") == "summary":
            result.summary_latency_s = round(max(0.0, recv - t0 - ended), 3)
            result.notes = e.get("notes")
            if notes_scorer is not None and result.notes is not None:
                heard = [t.hypothesis for t in turns]
                result.fact_coverage, result.missing_facts, result.invented, result.ungrounded = notes_scorer(
                    call, result.notes, heard)
                result.invented_numbers = len(result.invented)
                result.wrong_stated, result.wrong_flagged = split_wrong(result.notes, result.invented, call.language)
    return result


def split_wrong(notes: dict[str, Any], wrong: Sequence[str], language: str) -> tuple[list[str], list[str]]:
    """``wrong`` numbers (never said) split into those some unflagged note line states as fact and those the
    notes only carry marked 要確認 (``summarize/uncertain.py``)."""
    stated: set[str] = set()
    lines = [*notes.get("inquiry", []), *notes.get("actions", []), *notes.get("follow_ups", []),
             *([notes["result_line"]] if notes.get("result_line") else [])]
    for line in lines:
        if not line.get("flagged"):
            stated |= number_values(without_flagged(str(line.get("text", "")), language), language)
    return sorted(v for v in wrong if v in stated), sorted(v for v in wrong if v not in stated)


def _mean(values: Sequence[float | bool]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def aggregate(results: Sequence[CallResult]) -> dict[str, Any]:
    """The headline figures over all calls (the last line of ``python -m eval calls``)."""
    expected = [t for r in results for t in r.turns if t.expected]
    customer = [t for r in results for t in r.turns if t.speaker == "customer"]
    sugg = [t.suggestion_latency_s for t in customer if t.suggestion_latency_s is not None]
    finals = [t.final_latency_s for r in results for t in r.turns if t.final_latency_s is not None]
    summaries = [r.summary_latency_s for r in results if r.summary_latency_s is not None]
    by_lang: dict[str, float | None] = {}
    for lang in sorted({r.language for r in results}):
        group = [r for r in results if r.language == lang]
        refs = [t.reference for r in group for t in r.turns]
        hyps = [t.hypothesis for r in group for t in r.turns]
        by_lang[lang] = round(asr_score(refs, hyps, lang), 4) if refs else None
    scored = [r for r in results if r.fact_coverage is not None]
    pushes = [p for r in results for p in r.pushes]
    shown = [t for t in expected if t.on_screen is not None]
    return {
        "hit@1": _mean([bool(t.hit1) for t in expected]),
        "hit@3": _mean([bool(t.hit3) for t in expected]),
        "hit@1_strict": _mean([bool(t.hit1_strict) for t in expected]),
        "hit@3_strict": _mean([bool(t.hit3_strict) for t in expected]),
        "hit@3_untimed": _mean([bool(t.hit3) or _rank_hit(t.late, t.expected, 3) for t in expected]),
        "pushes": len(pushes),
        "push_top1_precision": _mean([p.top_expected for p in pushes]),
        "junk_pushes": sum(p.junk for p in pushes),
        "on_screen@1": _mean([bool(t.on_screen and t.on_screen[0] in t.expected) for t in shown]),
        f"on_screen@{PANEL_VISIBLE}": _mean([any(a in t.expected for a in t.on_screen or []) for t in shown]),
        "suggestion_latency_s_p50": percentile(sugg, 50),
        "suggestion_latency_s_p95": percentile(sugg, 95),
        "final_latency_s_p50": percentile(finals, 50),
        "final_latency_s_p95": percentile(finals, 95),
        "cer": by_lang.get("ja"),
        "wer": by_lang.get("en"),
        "fact_coverage": _mean([r.fact_coverage for r in scored if r.fact_coverage is not None]),
        "invented_numbers": sum(r.invented_numbers or 0 for r in scored) if scored else None,
        "ungrounded_numbers": sum(len(r.ungrounded) for r in scored) if scored else None,
        "wrong_numbers_stated": sum(len(r.wrong_stated) for r in scored) if scored else None,
        "wrong_numbers_flagged": sum(len(r.wrong_flagged) for r in scored) if scored else None,
        "summary_latency_s": percentile(summaries, 95),
        "summary_latency_s_p50": percentile(summaries, 50),
        "n_calls": len(results),
        "n_expected_turns": len(expected),
        "n_customer_turns_without_suggestion": sum(t.suggestion_latency_s is None for t in customer),
        "n_calls_without_summary": sum(r.summary_latency_s is None for r in results),
        "errors": sorted({c for r in results for c in r.errors}),
        **alert_summary([r.alerts for r in results]),
    }
