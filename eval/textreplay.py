"""Text replays for ``python -m eval calls --text``: a call's scripted turns become finals at their times, through
the real live service (sockets, session, alert rules, checklist, QA), with no speech model.

Alerts and checklists read finals, not audio, so what they do can be measured without recognition errors and
without TTS: the service runs in this process with a ``ScriptedAsr`` that turns the silent audio streamed on a
call's legs into the script's finals (each final when its leg's audio reaches the end of the turn), and an
``OracleRetrieval`` that answers a request turn with the call's expected articles (high confidence), so a
category's checklist items join as they would after a right top card. Turn times come from the script
(``text_timeline``): a pause before each turn (``gap``; negative: talking over), a spoken length (``duration``) or
one estimated from the text at a natural rate. ``speed`` > 1 streams the audio faster (finals still carry the
script's times, which are what every rule reads), so delays stay the service's own.
"""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn

from asr.audio import SAMPLE_RATE
from asr.base import Leg, Utterance
from assist.alerts.live import AlertMonitor
from assist.alerts.measure import morae
from assist.app import create_app
from assist.replay import TURN_GAP_S, replay_call
from assist.services import Services
from assist.stages import CallStages
from config import Settings
from eval.callscore import CallResult, Received, score_call
from eval.callset import SPLIT_KB, CallSpec, Timeline, TurnSpan
from knowledge.article import Article
from retrieval.base import Hit, Suggestion

NATURAL_RATE = {"ja": 7.0, "en": 4.0}  # morae / syllables per second: well under the speaking-rate rules' limits
MIN_TURN_S = 0.8


def text_timeline(call: CallSpec, gap_s: float = TURN_GAP_S) -> Timeline:
    """Each turn after the latest end of the turns before it plus its ``gap`` (default ``gap_s``), lasting its
    ``duration`` or its text's units at ``NATURAL_RATE``; the call ends ``gap_s`` after the last speech."""
    cursor = 0.0
    spans = []
    for turn in call.turns:
        start = max(0.0, cursor + (gap_s if turn.gap is None else turn.gap))
        length = turn.duration or max(MIN_TURN_S, morae(turn.text) / NATURAL_RATE.get(call.language, 5.0))
        end = round(start + length, 3)
        spans.append(TurnSpan(turn.index, turn.speaker, round(start, 3), end, round(start, 3), end))
        cursor = max(cursor, end)
    return Timeline(spans, round(cursor + gap_s, 3))


@dataclass(frozen=True, slots=True)
class ScriptedFinal:
    utterance_id: str
    text: str
    start: float
    end: float


class ScriptedLeg:
    """A ``LegAudio`` that emits its leg's scripted finals as the audio fed reaches each one's end."""

    def __init__(self, call_id: str, leg: Leg, language: str, finals: list[ScriptedFinal], speed: float,
                 on_event: Callable[[Utterance], None]) -> None:
        self.call_id, self.leg, self.language, self.speed = call_id, leg, language, speed
        self._finals = sorted(finals, key=lambda f: f.end)
        self._on_event = on_event
        self._samples = 0
        self._next = 0

    @property
    def lag_s(self) -> float:
        return 0.0

    def feed(self, samples: np.ndarray) -> None:
        self._samples += len(samples)
        self._emit(self._samples / SAMPLE_RATE * self.speed)

    def _emit(self, until: float) -> None:
        while self._next < len(self._finals) and self._finals[self._next].end <= until:
            f = self._finals[self._next]
            self._on_event(Utterance(self.call_id, self.leg, f.utterance_id, f.text, True, f.start, f.end,
                                     self.language))
            self._next += 1

    def close(self) -> None:
        self._emit(float("inf"))  # the audio stopped early: what is left is still said

    def join(self, timeout: float | None = None) -> bool:
        return True


@dataclass
class ScriptedAsr:
    """A ``StreamingRecognizer`` for text replays: ``script`` registers a call's finals under its call id."""

    speed: float = 1.0
    _calls: dict[str, tuple[str, dict[str, list[ScriptedFinal]]]] = field(default_factory=dict)

    def script(self, call_id: str, call: CallSpec, timeline: Timeline) -> None:
        legs: dict[str, list[ScriptedFinal]] = {}
        for turn, span in zip(call.turns, timeline.spans, strict=True):
            legs.setdefault(turn.speaker, []).append(ScriptedFinal(f"t{turn.index}", turn.text, span.start, span.end))
        self._calls[call_id] = (call.language, legs)

    def open_leg(self, call_id: str, leg: Leg, *, language: str | None,
                 on_event: Callable[[Utterance], None]) -> ScriptedLeg:
        spoken, legs = self._calls.get(call_id, (language or "ja", {}))
        return ScriptedLeg(call_id, leg, spoken, legs.get(leg, []), self.speed, on_event)

    def stats(self) -> dict[str, float | int]:
        return {"calls": len(self._calls)}


class OracleRetrieval:
    """A ``Suggester`` that answers each request turn of the scripted calls with its expected articles."""

    def __init__(self, calls: Sequence[CallSpec], kb: Sequence[Path] = SPLIT_KB) -> None:
        rows = [json.loads(line) for path in kb for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()]
        self._kb = {r["id"]: r for r in rows}
        self._answers = {call.turns[i].text: ids for call in calls for i, ids in call.expected.items()}

    def search(self, query: str, *, k: int = 3, language: str | None = None) -> list[Hit]:
        hits = []
        for rank, article_id in enumerate(self._answers.get(query, [])[:k]):
            row = self._kb.get(article_id, {})
            hits.append(Hit(article_id, row.get("title", article_id), "", 1.0 - 0.1 * rank,
                            language=row.get("language", "ja"), category=row.get("category"),
                            confidence="high" if rank == 0 else "medium"))
        return hits

    def suggest(self, latest: str, previous: str | None = None, *, language: str | None = None,
                k: int | None = None) -> Suggestion:
        hits = self.search(latest, k=k or 3, language=language)
        return Suggestion(latest, hits, 0.0, abstained=not hits)

    def get_article(self, article_id: str) -> Article | None:
        return None  # no drafts in text replays


class _Server:
    """The real app under uvicorn in a background thread (the stages are this module's)."""

    def __init__(self, settings: Settings, stages: CallStages) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.services = Services(settings, stages=stages)
        app = create_app(settings, self.services, status_interval_s=30.0)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None,
                                                    lifespan="on", ws_max_size=1 << 22))
        self.thread = threading.Thread(target=self.server.run, name="text-replay-server", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30.0
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the text replay server did not start")
            time.sleep(0.02)
        return f"ws://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.services.close()


def monitor_for(settings: Settings, paraphrase: bool) -> AlertMonitor:
    """The configured rules; with ``paraphrase``, the configured embedder for the abuse paraphrases."""
    embedder = None
    if paraphrase:
        from models import ModelRegistry
        from retrieval.embedders import build_embedder

        embedder = build_embedder(settings.retrieval, ModelRegistry(settings.models_dir),
                                  allow_downloads=settings.allow_downloads)
        embedder.load()
    return AlertMonitor.build(settings.alerts.rules_file, check_interval_s=settings.alerts.reload_check_s,
                              embedder=embedder)


async def _replay(url: str, asr: ScriptedAsr, calls: Sequence[CallSpec], concurrency: int,
                  speed: float) -> list[CallResult]:
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(call: CallSpec) -> CallResult:
        async with gate:
            line = text_timeline(call)
            call_id = f"text-{call.id[:80]}.{uuid.uuid4().hex[:6]}"
            asr.script(call_id, call, line)
            silent = np.zeros(int(line.duration / speed * SAMPLE_RATE), np.float32)
            received: list[Received] = []
            await replay_call(url, call_id, {"customer": silent, "agent": silent}, language=call.language,
                              stereo=True, on_event=lambda e: received.append((time.monotonic(), e)),
                              timeout_s=line.duration / speed + 60.0)
            return score_call(call, _on_wall(line, speed), [(t, _rescaled(e, speed)) for t, e in received])

    return list(await asyncio.gather(*(one(c) for c in calls)))


def _on_wall(line: Timeline, speed: float) -> Timeline:
    """The script's times as the (``speed`` times faster) stream played them."""
    return Timeline([TurnSpan(s.index, s.speaker, s.start / speed, s.end / speed, s.speech_start / speed,
                              s.speech_end / speed) for s in line.spans], line.duration / speed)


def _rescaled(event: dict[str, Any], speed: float) -> dict[str, Any]:
    """A transcript event with its audio times on the wall's scale (so it matches ``_on_wall``'s turns)."""
    if speed == 1.0 or event.get("type") != "transcript":
        return event
    return {**event, "start": float(event["start"]) / speed, "end": float(event["end"]) / speed}


def run_text_calls(calls: Sequence[CallSpec], settings: Settings, *, concurrency: int = 8, speed: float = 1.0,
                   paraphrase: bool = False) -> list[CallResult]:
    """Replay ``calls`` as text through an in-process service; one ``CallResult`` per call, in order."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    with tempfile.TemporaryDirectory(prefix="assist-text-") as tmp:
        local = settings.model_copy(update={
            "home": Path(tmp), "redis_url": None, "database_url": None,
            "server": settings.server.model_copy(update={"preload_models": False,
                                                         "max_calls": max(settings.server.max_calls, concurrency)}),
            "auth": settings.auth.model_copy(update={"mode": "open"})})
        asr = ScriptedAsr(speed=speed)
        stages = CallStages(asr=asr, retrieval=OracleRetrieval(calls), alerts=monitor_for(settings, paraphrase))
        with _Server(local, stages) as url:
            return asyncio.run(_replay(url, asr, calls, concurrency, speed))
