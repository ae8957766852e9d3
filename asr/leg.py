"""``LegStream``: the live service's handle on one call leg (customer or agent audio).

``feed`` only enqueues (the engine's VAD thread cuts utterances); results come back from decode
workers through ``deliver``, which keeps finals in utterance order, drops partials that a final has
overtaken, and calls ``on_event`` under the leg's lock so events of one leg never interleave.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from asr.audio import SAMPLE_RATE, AudioFormatError
from asr.base import FinalContext, Leg, Transcription, Utterance
from asr.guards import clean_text
from asr.stream import Cut, Segmenter
from common.errors import CodedError

if TYPE_CHECKING:
    from asr.engine import AsrEngine

log = logging.getLogger(__name__)


class LegBacklogFull(CodedError, RuntimeError):
    """More of this leg's audio waits for the VAD than ``asr.max_backlog_s``: recognition is too far behind.

    Raised by ``LegStream.feed`` instead of queueing without bound; ``code`` is the protocol's error code.
    """

    code = "audio_backlog"

    def __init__(self, message: str) -> None:
        super().__init__(self.code, message)


class LegStream:
    """One leg of one call; created by ``AsrEngine.open_leg``."""

    def __init__(
        self,
        engine: AsrEngine,
        call_id: str,
        leg: Leg,
        *,
        language: str | None,
        on_event: Callable[[Utterance], None],
        segmenter: Segmenter,
    ) -> None:
        self.engine = engine
        self.call_id = call_id
        self.leg = leg
        self.language = language
        self.on_event = on_event
        self.segmenter = segmenter
        self.key = (call_id, leg)
        self._lock = threading.RLock()
        # audio the VAD thread has not read yet, with its arrival time; guarded by the engine's condition,
        # which serves legs round-robin so one leg's backlog never delays another's audio
        self.inbox: deque[tuple[np.ndarray | None, float]] = deque()
        self.backlog_samples = 0
        self.scheduled = False  # in the engine's ready queue
        self._pending: dict[int, float] = {}  # final index -> speech-end wall time, queued or decoding
        self._ready: dict[int, Utterance | None] = {}  # finished finals waiting for an earlier one
        self._next_final = 0
        self._finalized_upto = -1  # highest utterance index whose final is queued
        self._partial_end: dict[int, int] = {}  # newest partial shown per utterance (end sample)
        self._closing = False
        self._flushed = False
        self._done = threading.Event()
        self.finals = 0
        self.partials = 0
        self.context: FinalContext | None = None  # the latest final with text: what the next final is decoded after

    # ---- caller side -------------------------------------------------------------------------
    def feed(self, samples: np.ndarray, *, wait: bool = False) -> None:
        """Queue 16 kHz mono float32 audio (the engine's VAD thread does the work).

        A full backlog raises ``LegBacklogFull``, or with ``wait`` (offline callers, never the event loop)
        blocks until the VAD thread has caught up.
        """
        if self._closing:
            raise AudioFormatError("leg_closed", f"leg {self.leg} of call {self.call_id} is closed")
        arr = np.asarray(samples)
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.floating):
            raise AudioFormatError(
                "invalid_samples", f"expected a 1-D float array of 16 kHz mono samples, got {arr.dtype}{arr.shape}"
            )
        if arr.size == 0:
            return
        self.engine.enqueue_audio(self, arr.astype(np.float32, copy=True), time.monotonic(), wait=wait)

    def close(self) -> None:
        """Flush: the trailing utterance gets its final, then no more events (see ``join``)."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        self.engine.enqueue_audio(self, None, time.monotonic())

    def join(self, timeout: float | None = None) -> bool:
        """Wait until ``close`` has delivered the last final; ``True`` when done."""
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def lag_s(self) -> float:
        """Age of the oldest audio not yet turned into events (unread by VAD, or a final not yet out)."""
        with self._lock:
            oldest = min(self._pending.values(), default=None)
        try:
            samples, first = self.inbox[0]
        except IndexError:  # the VAD thread took it meanwhile
            samples, first = None, 0.0
        if samples is not None:
            oldest = first if oldest is None else min(oldest, first)
        return 0.0 if oldest is None else max(0.0, time.monotonic() - oldest)

    # ---- engine side ---------------------------------------------------------------------------
    def process(self, samples: np.ndarray | None, arrival: float) -> list[Cut]:
        """VAD thread: cut utterances from new audio that arrived at ``arrival`` (``None`` = end of stream)."""
        if samples is None:
            cuts = self.segmenter.finish(time.monotonic())
        else:
            cuts = self.segmenter.push(samples, arrival)
        with self._lock:
            for cut in cuts:
                if cut.final:
                    self._pending[cut.index] = cut.wall
                    self._finalized_upto = max(self._finalized_upto, cut.index)
            if samples is None:
                self._flushed = True
                self._check_done()
        return cuts

    def is_stale(self, cut: Cut) -> bool:
        with self._lock:
            return self._done.is_set() or cut.index <= self._finalized_upto

    def deliver(self, cut: Cut, tr: Transcription | None) -> None:
        """Worker thread: turn a decode into an event (or nothing), keeping per-leg order."""
        with self._lock:
            if tr is not None and self.language is None and tr.language:
                self.language = tr.language
            text = clean_text(tr, speech_ratio=cut.speech_ratio) if tr is not None else ""
            if not cut.final:
                if self._done.is_set() or cut.index <= self._finalized_upto or not text:
                    return
                if cut.end_sample <= self._partial_end.get(cut.index, -1):
                    return
                self._partial_end[cut.index] = cut.end_sample
                self.partials += 1
                self._emit(self._event(cut, text, tr))
                return
            shown = cut.index in self._partial_end
            if text:  # a final too short for its audio (a hallucination) must not be the next one's prefix
                self.context = FinalContext(cut.audio, text) if _plausible(text, len(cut.audio)) else None
            self._ready[cut.index] = self._event(cut, text, tr) if (text or shown) else None
            while self._next_final in self._ready:
                event = self._ready.pop(self._next_final)
                self._pending.pop(self._next_final, None)
                self._partial_end.pop(self._next_final, None)
                self._next_final += 1
                if event is not None:
                    self.finals += 1
                    self._emit(event)
            self._check_done()

    def _event(self, cut: Cut, text: str, tr: Transcription | None) -> Utterance:
        return Utterance(
            call_id=self.call_id,
            leg=self.leg,
            utterance_id=f"{self.leg}-{cut.index}",
            text=text,
            final=cut.final,
            start=round(cut.start, 3),
            end=round(cut.end, 3),
            language=(tr.language if tr is not None else None) or self.language or "",
            latency_s=round(time.monotonic() - cut.wall, 3),
            words=tr.words if tr is not None and cut.final else (),
        )

    def _emit(self, event: Utterance) -> None:
        try:
            self.on_event(event)
        except Exception:  # a broken subscriber must not kill a decode worker
            log.exception("on_event failed for call %s leg %s", self.call_id, self.leg)

    def _check_done(self) -> None:
        if self._flushed and not self._pending and not self._done.is_set():
            self._done.set()
            self.engine.leg_done(self)


# Characters (letters, kana, kanji, digits) a final must have per second of its audio to be the next final's
# context. Speech runs 5+ (ja) to 12+ (en) a second; a hallucination over a turn (「お客様、お客様、」 for 6.8 s of
# speech, 0.9 a second) forced as the next decode's prefix made it transcribe that audio again (docs/QUALITY.md).
# Below the cut the next final decodes alone, as before the context was used: a short answer over a long cut loses
# nothing worse.
MIN_CONTEXT_CHARS_PER_S = 1.5


def _plausible(text: str, samples: int) -> bool:
    seconds = samples / SAMPLE_RATE
    return seconds <= 0 or sum(c.isalnum() for c in text) >= MIN_CONTEXT_CHARS_PER_S * seconds
