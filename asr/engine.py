"""``AsrEngine``: one Recognizer shared by every call, a VAD thread, and decode workers.

Threads: callers only enqueue audio (``LegStream.feed``) on their leg's bounded inbox; a single VAD
thread runs Silero for all legs (about 0.1 ms per 32 ms window), one chunk per leg in turn so a leg that
sends a lot cannot delay the others, and submits cuts to the ``DecodeScheduler``; ``workers`` decode
threads take finals before partials and hand results back to their leg.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from asr import numerals
from asr.audio import SAMPLE_RATE
from asr.base import (
    ContextRecognizer,
    Leg,
    PartialRecognizer,
    Recognizer,
    Transcription,
    Utterance,
)
from asr.glossary import DEFAULT_TOKEN_BUDGET, approx_tokens, build_prompts
from asr.leg import LegBacklogFull, LegStream
from asr.scheduler import DecodeScheduler, Job
from asr.stream import Cut, Segmenter
from asr.vad import StreamingVad, shared_vad_model
from asr.vocab import VocabCorrector
from config import AsrSettings
from gpu.batching import batch_limit, decode_finals

log = logging.getLogger(__name__)

PARTIAL_MAX_LAG_S = 1.0  # above this backlog on any leg, partials are skipped until it clears


class AsrEngine:
    """One per process; owns the recognizer, the VAD thread, worker threads and bounded queues."""

    def __init__(
        self, recognizer: Recognizer, settings: AsrSettings, *, on_corrections: Callable[[int], None] | None = None
    ) -> None:
        """``on_corrections`` hears how many words vocabulary correction replaced in each final."""
        self.recognizer = recognizer
        self.settings = settings
        plan = getattr(recognizer, "plan", None)
        self.n_workers = settings.workers or getattr(plan, "num_workers", 0) or 2
        self.max_batch = batch_limit(recognizer, settings.batch_size)
        self._vad_model = shared_vad_model()
        self._audio = threading.Condition()  # guards every leg's inbox and the ready queue
        self._ready: deque[LegStream] = deque()  # legs with queued audio, each at most once: served in turn
        self._queued = 0  # chunks waiting over all legs
        self._backlog_limit = int(settings.max_backlog_s * SAMPLE_RATE)
        # finals after their leg's previous utterance (asr/context.py) need that one decoded first; None: finals alone
        self._in_context: ContextRecognizer | None = (
            recognizer if isinstance(recognizer, ContextRecognizer) and getattr(recognizer, "context_audio_s", 0) > 0
            else None)
        self.scheduler = DecodeScheduler(
            settings.queue_size, workers=self.n_workers, is_stale=self._partial_is_stale,
            exclusive_finals=self._in_context is not None,
        )
        self._legs: dict[tuple[str, Leg], LegStream] = {}
        self._legs_lock = threading.Lock()
        self._prompts: dict[str, str | None] = {}
        # applied to finals via on_event
        self.vocab = VocabCorrector(enabled=settings.vocab_correction, on_corrections=on_corrections)
        self._closed = False
        self._count_lock = threading.Lock()
        self.decodes_final = 0
        self.decodes_partial = 0
        self.max_lag_s = 0.0
        self._threads = [threading.Thread(target=self._vad_loop, name="asr-vad", daemon=True)]
        self._threads += [
            threading.Thread(target=self._worker_loop, args=(i,), name=f"asr-decode-{i}", daemon=True)
            for i in range(self.n_workers)
        ]
        for t in self._threads:
            t.start()

    def open_leg(
        self,
        call_id: str,
        leg: Leg,
        *,
        language: str | None,
        on_event: Callable[[Utterance], None],
    ) -> LegStream:
        """Start a leg; ``language=None`` detects it on the first utterance and keeps it."""
        if self._closed:
            raise RuntimeError("ASR engine is closed")
        if leg not in ("customer", "agent"):
            raise ValueError(f"leg must be 'customer' or 'agent', got {leg!r}")
        stream = LegStream(
            self,
            call_id,
            leg,
            language=language,
            on_event=numerals.wrap(self.vocab.wrap(on_event)),
            segmenter=Segmenter(self.settings, StreamingVad(self._vad_model)),
        )
        with self._legs_lock:
            if (call_id, leg) in self._legs:
                raise ValueError(f"leg {leg} of call {call_id} is already open")
            self._legs[(call_id, leg)] = stream
        return stream

    def set_glossary(self, terms: Sequence[str], *, vocabulary: Sequence[str] = ()) -> None:
        """Domain terms for finals' prompt (knowledge-base titles, tags); bounded to the prompt budget. Both they and
        ``vocabulary`` (the articles' questions and answers: exact spellings only) feed the vocabulary correction."""
        self.vocab.set_terms(terms, exact=vocabulary)
        if not self.settings.glossary:
            return
        count = getattr(self.recognizer, "count_tokens", approx_tokens)
        self._prompts = build_prompts(list(terms), count_tokens=count, budget=DEFAULT_TOKEN_BUDGET)
        log.info("ASR glossary: %d terms, ja prompt %r", len(terms), (self._prompts.get("ja") or "")[:80])

    def prompt(self, language: str | None) -> str | None:
        """The finals' prompt for ``language`` (none until the language is known)."""
        return self._prompts.get(language) if language else None

    def stats(self) -> dict[str, float | int]:
        finals, partials = self.scheduler.depth()
        with self._legs_lock:
            legs = list(self._legs.values())
        lag = max((leg.lag_s for leg in legs), default=0.0)
        self.max_lag_s = max(self.max_lag_s, lag)
        return {
            "legs": len(legs),
            "queue_finals": finals,
            "queue_partials": partials,
            "audio_backlog": self._queued,
            "dropped_partials": self.scheduler.dropped_partials,
            "decodes_final": self.decodes_final,
            "decodes_partial": self.decodes_partial,
            "lag_s": round(lag, 3),
            "max_lag_s": round(self.max_lag_s, 3),
        }

    def close(self) -> None:
        """Stop threads after queued finals are decoded; open legs get no further events."""
        if self._closed:
            return
        with self._audio:
            self._closed = True
            self._audio.notify_all()
        self._threads[0].join()
        self.scheduler.close()
        for t in self._threads[1:]:
            t.join()

    # ---- internals -----------------------------------------------------------------------------
    def enqueue_audio(self, leg: LegStream, samples: np.ndarray | None, arrival: float, *, wait: bool = False) -> None:
        """Queue on the leg's inbox; past ``max_backlog_s`` of unread audio, refuse (or ``wait`` for room).

        ``None`` (end of stream) is always accepted.
        """
        with self._audio:
            if samples is not None and leg.backlog_samples >= self._backlog_limit:
                if not wait:
                    raise LegBacklogFull(f"recognition of leg {leg.leg} of call {leg.call_id} is more than "
                                         f"{self.settings.max_backlog_s:g} s of audio behind")
                self._audio.wait_for(lambda: leg.backlog_samples < self._backlog_limit or self._closed)
            leg.inbox.append((samples, arrival))
            leg.backlog_samples += 0 if samples is None else len(samples)
            self._queued += 1
            if not leg.scheduled:
                leg.scheduled = True
                self._ready.append(leg)
                self._audio.notify_all()

    def _next_audio(self) -> tuple[LegStream, np.ndarray | None, float] | None:
        """VAD thread: the oldest chunk of the next leg in turn; ``None`` once closed and drained."""
        with self._audio:
            while not self._ready:
                if self._closed:
                    return None
                self._audio.wait()
            leg = self._ready.popleft()
            samples, arrival = leg.inbox.popleft()
            leg.backlog_samples -= 0 if samples is None else len(samples)
            self._queued -= 1
            if leg.inbox:
                self._ready.append(leg)
            else:
                leg.scheduled = False
            self._audio.notify_all()  # a waiting offline feeder may have room now
            return leg, samples, arrival

    def leg_done(self, leg: LegStream) -> None:
        with self._legs_lock:
            if self._legs.get(leg.key) is leg:
                del self._legs[leg.key]

    def _partial_is_stale(self, job: Job) -> bool:
        """Called with the scheduler's lock held, when a worker would start this partial.

        Behind real time, partials go first: one that waited longer than a partial interval, or any
        partial while some leg's backlog exceeds ``PARTIAL_MAX_LAG_S``, is dropped unseen.
        """
        leg, cut = job.payload
        if leg.is_stale(cut):
            return True
        if time.monotonic() - job.enqueued > max(self.settings.partial_interval_s, 0.5):
            return True
        with self._legs_lock:
            legs = list(self._legs.values())
        return any(other.lag_s > PARTIAL_MAX_LAG_S for other in legs)

    def _vad_loop(self) -> None:
        while (item := self._next_audio()) is not None:
            leg, samples, arrival = item
            try:
                cuts = leg.process(samples, arrival)
            except Exception:
                log.exception("VAD failed on call %s leg %s", leg.call_id, leg.leg)
                continue
            for cut in cuts:
                job = Job(key=leg.key, final=cut.final, payload=(leg, cut), language=leg.language)
                self.scheduler.submit(job)
                if cut.final:
                    self.scheduler.drop_partials(leg.key)

    def _worker_loop(self, worker: int) -> None:
        while (jobs := self.scheduler.take(worker, max_finals=self.max_batch)) is not None:
            if jobs:
                self._run(jobs)

    def _run(self, jobs: list[Job]) -> None:
        pairs: list[tuple[LegStream, Cut]] = [job.payload for job in jobs]
        final = jobs[0].final
        language = pairs[0][0].language
        try:
            if final and self._in_context is not None:
                results: list[Transcription | None] = list(
                    self._in_context.transcribe_finals(
                        [cut.audio for _, cut in pairs],
                        language=language,
                        beam_size=self.settings.beam_size,
                        prompt=self.prompt(language),
                        contexts=[leg.context for leg, _ in pairs],
                    )
                )
                with self._count_lock:
                    self.decodes_final += len(pairs)
            elif final:
                results = list(
                    decode_finals(
                        self.recognizer,
                        [cut.audio for _, cut in pairs],
                        language=language,
                        beam_size=self.settings.beam_size,
                        prompt=self.prompt(language),
                    )
                )
                with self._count_lock:
                    self.decodes_final += len(pairs)
            else:
                rec = self.recognizer
                decode = rec.transcribe_partial if isinstance(rec, PartialRecognizer) else rec.transcribe
                results = [decode(pairs[0][1].audio, language=language, beam_size=self.settings.partial_beam_size)]
                with self._count_lock:
                    self.decodes_partial += 1
        except Exception:
            log.exception("decode failed (%d %s)", len(pairs), "finals" if final else "partial")
            results = [None] * len(pairs)
        try:
            for (leg, cut), tr in zip(pairs, results, strict=True):
                leg.deliver(cut, tr)
        finally:
            self.scheduler.finish(jobs)


def transcribe_stream(
    engine: AsrEngine,
    samples: np.ndarray,
    chunk_ms: int = 100,
    *,
    call_id: str = "offline",
    leg: Leg = "customer",
    language: str | None = None,
    realtime: bool = False,
    timeout: float | None = None,
) -> list[Utterance]:
    """Feed ``samples`` through a leg in ``chunk_ms`` frames (paced like a live call if ``realtime``)."""
    events: list[Utterance] = []
    lock = threading.Lock()

    def collect(event: Utterance) -> None:
        with lock:
            events.append(event)

    stream = engine.open_leg(call_id, leg, language=language, on_event=collect)
    step = max(1, SAMPLE_RATE * chunk_ms // 1000)
    started = time.monotonic()
    for i in range(0, len(samples), step):
        if realtime:
            delay = started + i / SAMPLE_RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        stream.feed(samples[i : i + step], wait=True)
    stream.close()
    if not stream.join(timeout):
        raise TimeoutError(f"leg {leg} of call {call_id} did not finish within {timeout} s")
    with lock:
        return list(events)
