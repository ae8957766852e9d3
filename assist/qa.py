"""Per-call QA metrics from the two legs' finals: who talked how much, overtalk, silence, speaking rate, the
customer's sentiment at the start and the end, checklist adherence and alerts raised.

Pure: the finals (text and audio-time bounds), the checklist and the alert count come in, ``QaMetrics`` comes
out. Timestamps are each leg's audio time from the call's start, so a reconnected call's later epoch
(utterance ids ``e<n>:…``) starts again from 0: overlaps and silences are measured within an epoch only.
The figures follow the usual QA definitions (MiiTel and the like): overtalk is an overlap of at least 1 s
between a customer and an agent final, a silence is a gap where neither leg speaks (the wait before the
first word is not one), speaking rate is characters per second of a leg's own speech.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from summarize.notes import ChecklistMark

OVERTALK_MIN_S = 1.0
SILENCE_MIN_S = 3.0  # gaps counted in ``silences``; the longest gap is reported whatever its length
SENTIMENT_TURNS = 2  # customer finals averaged for the sentiment at the start and at the end (fewer in short calls)
_EPOCH = re.compile(r"^e(\d+):")
_MASKED = re.compile(r"\[[^\[\]]{1,16}\]")  # [電話番号], [CARD]: the spoken digits are gone, so not counted

Scorer = Callable[[str], float]
"""A sentiment scorer: a final's text -> -1 (most negative) … 1 (most positive)."""


@dataclass(frozen=True, slots=True)
class QaTurn:
    """One final as stored: leg, masked text, audio-time bounds and its reconnect epoch."""

    leg: str
    text: str
    start: float
    end: float
    epoch: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> QaTurn | None:
        """A ``CallStore.utterances`` row; ``None`` without timestamps (nothing to measure)."""
        if row.get("start") is None or row.get("end") is None:
            return None
        match = _EPOCH.match(str(row.get("utterance_id") or ""))
        return cls(str(row["leg"]), str(row["text"]), float(row["start"]), float(row["end"]),
                   int(match.group(1)) if match else 0)


class QaMetrics(BaseModel):
    """What QA reads about one call; stored with it and exported as one CSV row."""

    talk_s: dict[str, float] = Field(description="Speech per leg, seconds (sum of its finals' lengths)")
    talk_listen_ratio: float | None = Field(description="Agent speech / customer speech; none without customer speech")
    overtalk_count: int = Field(description=f"Customer–agent overlaps of at least {OVERTALK_MIN_S:g} s")
    overtalk_s: float = Field(description="Their total length, seconds")
    longest_silence_s: float = Field(description="Longest gap where neither leg spoke, seconds")
    silences: int = Field(description=f"Gaps of at least {SILENCE_MIN_S:g} s")
    speaking_rate: dict[str, float] = Field(description="Characters per second of a leg's own speech (spaces, "
                                            "punctuation and masked spans not counted)")
    sentiment_start: float | None = Field(description=f"The customer's first {SENTIMENT_TURNS} finals, -1 … 1")
    sentiment_end: float | None = Field(description=f"The customer's last {SENTIMENT_TURNS} finals, -1 … 1")
    checklist_done: int = 0
    checklist_total: int = 0
    checklist_adherence: float | None = Field(None, description="Done / total; none without a checklist")
    checklist_missing: list[str] = Field(default_factory=list, description="Ids of the items not done")
    checklist: list[ChecklistMark] = Field(default_factory=list, description="The checklist at the call's end")
    alerts: int = Field(0, description="`alert` events raised on the call")
    turns: dict[str, int] = Field(default_factory=dict, description="Finals per leg")


def compute_qa(turns: Iterable[QaTurn], *, sentiment: Scorer, checklist: Sequence[ChecklistMark] = (),
               alerts: int = 0) -> QaMetrics:
    turns = sorted(turns, key=lambda t: (t.epoch, t.start, t.end))
    talk: dict[str, float] = {"customer": 0.0, "agent": 0.0}
    chars: dict[str, int] = {"customer": 0, "agent": 0}
    counts: dict[str, int] = {"customer": 0, "agent": 0}
    for t in turns:
        talk[t.leg] = talk.get(t.leg, 0.0) + max(0.0, t.end - t.start)
        chars[t.leg] = chars.get(t.leg, 0) + spoken_chars(t.text)
        counts[t.leg] = counts.get(t.leg, 0) + 1
    overtalk: list[float] = []
    gaps: list[float] = []
    for epoch in sorted({t.epoch for t in turns}):
        part = [t for t in turns if t.epoch == epoch]
        overtalk += overlaps([t for t in part if t.leg == "customer"], [t for t in part if t.leg == "agent"])
        gaps += silences(part)
    customer = [t.text for t in turns if t.leg == "customer" and t.text.strip()]
    edge = min(SENTIMENT_TURNS, max(1, len(customer) // 2))  # start and end share no final unless there is one
    done = [m for m in checklist if m.done]
    return QaMetrics(
        talk_s={k: round(v, 2) for k, v in talk.items()},
        talk_listen_ratio=round(talk["agent"] / talk["customer"], 3) if talk["customer"] > 0 else None,
        overtalk_count=len(overtalk), overtalk_s=round(sum(overtalk), 2),
        longest_silence_s=round(max(gaps, default=0.0), 2), silences=sum(g >= SILENCE_MIN_S for g in gaps),
        speaking_rate={k: round(chars[k] / talk[k], 2) if talk[k] > 0 else 0.0 for k in talk},
        sentiment_start=_mean(sentiment(x) for x in customer[:edge]),
        sentiment_end=_mean(sentiment(x) for x in customer[len(customer) - edge:]),
        checklist_done=len(done), checklist_total=len(checklist),
        checklist_adherence=round(len(done) / len(checklist), 3) if checklist else None,
        checklist_missing=[m.id for m in checklist if not m.done], checklist=list(checklist),
        alerts=alerts, turns=counts,
    )


def overlaps(customer: Sequence[QaTurn], agent: Sequence[QaTurn], minimum: float = OVERTALK_MIN_S) -> list[float]:
    """Length of every customer–agent overlap of at least ``minimum`` seconds (both lists sorted by start)."""
    out = []
    j = 0
    for c in customer:
        while j < len(agent) and agent[j].end <= c.start:  # agent finals over before this one starts never overlap
            j += 1                                          # a later customer final either (customer is sorted)
        for a in agent[j:]:
            if a.start >= c.end:
                break
            length = min(c.end, a.end) - max(c.start, a.start)
            if length >= minimum - 1e-9:
                out.append(length)
    return out


def silences(turns: Sequence[QaTurn]) -> list[float]:
    """Gaps between speech of either leg, from the first word to the last."""
    gaps = []
    spoken_until: float | None = None
    for t in sorted(turns, key=lambda t: t.start):
        if spoken_until is not None and t.start > spoken_until:
            gaps.append(t.start - spoken_until)
        spoken_until = t.end if spoken_until is None else max(spoken_until, t.end)
    return gaps


def spoken_chars(text: str) -> int:
    """Characters that were spoken: letters, kana, kanji and digits; not spaces, punctuation or masked spans."""
    text = unicodedata.normalize("NFKC", _MASKED.sub("", text))
    return sum(1 for ch in text if unicodedata.category(ch)[0] in "LN")


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return round(sum(items) / len(items), 3) if items else None


# ---------------------------------------------------------------- CSV

CSV_COLUMNS = (
    "call_id", "started", "ended", "agent", "language", "state", "talk_customer_s", "talk_agent_s",
    "talk_listen_ratio", "overtalk_count", "overtalk_s", "longest_silence_s", "silences", "rate_customer_cps",
    "rate_agent_cps", "sentiment_start", "sentiment_end", "checklist_done", "checklist_total",
    "checklist_adherence", "checklist_missing", "alerts",
)


def csv_row(call: Mapping[str, Any], metrics: QaMetrics) -> dict[str, Any]:
    """One call's CSV row: the call's facts (``CallRow.to_dict()``) and its metrics, flat."""
    meta = call.get("metadata") or {}
    return {
        "call_id": call["id"], "started": _iso(call.get("started")), "ended": _iso(call.get("ended")),
        "agent": meta.get("agent") or meta.get("owner") or "", "language": call.get("language") or "",
        "state": call.get("state") or "",
        "talk_customer_s": metrics.talk_s.get("customer", 0.0), "talk_agent_s": metrics.talk_s.get("agent", 0.0),
        "talk_listen_ratio": metrics.talk_listen_ratio, "overtalk_count": metrics.overtalk_count,
        "overtalk_s": metrics.overtalk_s, "longest_silence_s": metrics.longest_silence_s,
        "silences": metrics.silences, "rate_customer_cps": metrics.speaking_rate.get("customer", 0.0),
        "rate_agent_cps": metrics.speaking_rate.get("agent", 0.0), "sentiment_start": metrics.sentiment_start,
        "sentiment_end": metrics.sentiment_end, "checklist_done": metrics.checklist_done,
        "checklist_total": metrics.checklist_total, "checklist_adherence": metrics.checklist_adherence,
        "checklist_missing": ";".join(metrics.checklist_missing), "alerts": metrics.alerts,
    }


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text with a header row (``None`` as an empty cell), UTF-8 friendly for spreadsheets."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in CSV_COLUMNS})
    return out.getvalue()


def _iso(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")
