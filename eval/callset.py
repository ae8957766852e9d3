"""Scripted calls (GUIDE.md ``calls.jsonl`` format) and where each turn lies on the replay's clock.

A replay lays the turns end to end with a pause before each (``assist.replay.turns_to_legs``); the
``Timeline`` here reproduces that layout so events can be matched to the turn they answer.

The committed call set is split (issue 12): ``dev`` (the older calls, tuned on) and ``test`` (written apart,
other voices; report only). A row's ``split`` says which; a row without one is ``dev``. ``--split`` in
``eval calls`` / ``eval summary`` reads the older file and ``calls_v2.jsonl`` beside it, over ``kb.jsonl`` +
``kb_extra.jsonl`` (the new calls cite articles of both).
"""

from __future__ import annotations

import atexit
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asr.audio import SAMPLE_RATE, read_wav
from asr.base import Leg
from assist.replay import TURN_GAP_S, ReplayTurn
from eval.speech import speech_span, synthesize

DATA = Path(__file__).parent / "data"
SPLITS = ("dev", "test")
SPLIT_KB = (DATA / "kb.jsonl", DATA / "kb_extra.jsonl")
SPLIT_TEXT_CALLS = (DATA / "calls.jsonl", DATA / "calls_v2.jsonl")
SPLIT_AUDIO_CALLS = (DATA / "calls_audio" / "calls_audio.jsonl", DATA / "calls_audio" / "calls_v2.jsonl")
ESCALATION_CALLS = DATA / "escalations.jsonl"
"""Scripted escalations (issue 16): カスハラ, manager requests, cancellations, silences, overtalk, a fast agent; each
row lists the alerts it should raise (``alerts``) and the checklist it should end with (``checklist``)."""
CALM_BAIT_CALLS = DATA / "calm_bait.jsonl"
"""Calm calls whose words look like an escalation (how to cancel, "manager" as a job title, 上司 in a story): the
alert rules must raise nothing on them."""


@dataclass(frozen=True, slots=True)
class CallTurn:
    index: int
    speaker: Leg
    text: str
    audio: Path | None = None
    gap: float | None = None
    """Text replays: the pause before this turn, from the end of the turns before it (negative: it starts that long
    before they ended, talking over them); ``None``: the usual pause."""
    duration: float | None = None
    """Text replays: how long the turn is spoken; ``None``: estimated from its text at a natural rate."""


@dataclass(frozen=True, slots=True)
class ExpectedAlert:
    """An alert the call should raise: the rule (its id) or any rule of a condition, on the final of ``turn``."""

    turn: int
    rule: str | None = None
    condition: str | None = None
    category: str | None = None

    def label(self) -> str:
        return (self.rule or f"condition={self.condition}") + (f"/{self.category}" if self.category else "")


@dataclass(frozen=True, slots=True)
class CallSpec:
    id: str
    language: str
    turns: list[CallTurn]
    expected: dict[int, list[str]] = field(default_factory=dict)
    facts: list[str] = field(default_factory=list)
    alerts: list[ExpectedAlert] | None = None
    """Alerts it should raise; ``None`` (a calm call): every alert on it is a false one."""
    checklist: dict[str, bool] | None = None
    """Checklist item id -> done at the end of the call, where the call says."""


@dataclass(frozen=True, slots=True)
class TurnSpan:
    """Where turn ``index`` lies in call time (seconds from the first frame): its slot and its speech."""

    index: int
    speaker: str
    start: float
    end: float
    speech_start: float
    speech_end: float


@dataclass(frozen=True, slots=True)
class Timeline:
    spans: list[TurnSpan]
    duration: float

    def next_customer_start(self, index: int) -> float | None:
        """Speech start of the first customer turn after ``index`` (the end of that turn's window)."""
        return next((s.speech_start for s in self.spans if s.index > index and s.speaker == "customer"), None)

    def turn_at(self, speaker: str, start: float, end: float) -> int | None:
        """The turn of ``speaker`` that overlaps [start, end] the most (None if none does)."""
        best, best_overlap = None, 0.0
        for span in self.spans:
            if span.speaker != speaker:
                continue
            overlap = min(end, span.end) - max(start, span.start)
            if overlap > best_overlap or (best is None and overlap == 0.0 and span.start <= end <= span.end):
                best, best_overlap = span.index, overlap
        return best


def parse_call(row: dict, base: Path) -> CallSpec:
    """One ``calls.jsonl`` row; ``audio`` paths are relative to ``base`` (the file's folder)."""
    turns = []
    for i, t in enumerate(row["turns"]):
        if t["speaker"] not in ("customer", "agent"):
            raise ValueError(f"call {row['id']}: turn {i} has speaker {t['speaker']!r}")
        gap, duration = t.get("gap"), t.get("duration")
        if duration is not None and float(duration) <= 0:
            raise ValueError(f"call {row['id']}: turn {i} has duration {duration!r}")
        turns.append(CallTurn(i, t["speaker"], t["text"], base / t["audio"] if t.get("audio") else None,
                              None if gap is None else float(gap), None if duration is None else float(duration)))
    expected = {int(k): list(v) for k, v in (row.get("expected") or {}).items()}
    for k in expected:
        if not 0 <= k < len(turns) or turns[k].speaker != "customer":
            raise ValueError(f"call {row['id']}: expected turn {k} is not a customer turn")
    alerts = None
    if row.get("alerts") is not None:
        alerts = [ExpectedAlert(int(a["turn"]), a.get("rule"), a.get("condition"), a.get("category"))
                  for a in row["alerts"]]
        for a in alerts:
            if not 0 <= a.turn < len(turns) or (a.rule is None) == (a.condition is None):
                raise ValueError(f"call {row['id']}: expected alert {a} needs a turn of the call and one of "
                                 "rule or condition")
    checklist = None if row.get("checklist") is None else {str(k): bool(v) for k, v in row["checklist"].items()}
    return CallSpec(row["id"], row.get("language", "ja"), turns, expected, list(row.get("facts") or []), alerts,
                    checklist)


def in_split(row: dict, split: str | None) -> bool:
    """``split`` None takes every row; a row without ``split`` is ``dev`` (every older call was tuned on)."""
    return split is None or row.get("split", "dev") == split


def read_calls(path: Path, limit: int | None = None, split: str | None = None) -> list[CallSpec]:
    calls = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not in_split(row, split):
                continue
            calls.append(parse_call(row, path.parent))
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: {exc}") from exc
        if limit is not None and len(calls) >= limit:
            break
    return calls


def read_split(paths: Sequence[Path], split: str | None, limit: int | None = None) -> list[CallSpec]:
    """The calls of ``split`` from several files, in file order (``limit``: the first K in all)."""
    calls: list[CallSpec] = []
    for path in paths:
        calls += read_calls(path, None if limit is None else limit - len(calls), split)
        if limit is not None and len(calls) >= limit:
            break
    return calls


def split_kb(paths: Sequence[Path] = SPLIT_KB) -> Path:
    """One JSONL file holding ``paths`` (the evaluation server imports a single file); removed at exit."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".jsonl", prefix="split-kb-",
                                     delete=False) as f:
        for path in paths:
            text = path.read_text(encoding="utf-8")
            f.write(text if text.endswith("\n") else text + "\n")
    out = Path(f.name)
    atexit.register(out.unlink, missing_ok=True)
    return out


Synth = Callable[[str, str, str], np.ndarray]


def turn_audio(call: CallSpec, synth: Synth = synthesize) -> list[np.ndarray]:
    """Each turn's 16 kHz samples: its WAV when given, else synthesized speech."""
    return [read_wav(t.audio) if t.audio else synth(t.text, call.language, t.speaker) for t in call.turns]


def replay_turns(call: CallSpec, audio: list[np.ndarray]) -> list[ReplayTurn]:
    return [ReplayTurn(t.speaker, a) for t, a in zip(call.turns, audio, strict=True)]


def timeline(call: CallSpec, audio: list[np.ndarray], gap_s: float = TURN_GAP_S) -> Timeline:
    """The same layout as ``turns_to_legs``: a pause, then each turn followed by a pause."""
    gap = int(gap_s * SAMPLE_RATE)
    pos = gap
    spans = []
    for turn, samples in zip(call.turns, audio, strict=True):
        first, last = speech_span(samples)
        start = pos / SAMPLE_RATE
        end = start + len(samples) / SAMPLE_RATE
        spans.append(TurnSpan(turn.index, turn.speaker, start, end, start + first, start + last))
        pos += len(samples) + gap
    return Timeline(spans, pos / SAMPLE_RATE)
