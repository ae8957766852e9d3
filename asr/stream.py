"""Per-leg utterance cutting: VAD probabilities in, ``Cut`` jobs (partials and finals) out.

Pure logic with no threads, so the endpointing rules are testable without a model. Each utterance is
cut once at a VAD pause (``endpointing_ms`` of silence) and never decoded again; utterances longer
than ``max_utterance_s`` are split at their quietest window. Partials re-read only the open utterance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asr.audio import SAMPLE_RATE
from asr.vad import WINDOW, StreamingVad
from config import AsrSettings

PRE_ROLL_S = 0.2  # audio kept before the first speech window (Silero reacts a little late)
POST_PAD_S = 0.15  # audio kept after the last speech window
MIN_SPEECH_S = 0.25  # shorter blips (clicks, breaths) are not utterances
MIN_PARTIAL_S = 0.5
NEG_THRESHOLD_GAP = 0.15  # hysteresis: silence counts only below threshold - gap


@dataclass(frozen=True, slots=True)
class Cut:
    """Audio handed to the recognizer: a droppable partial or the one final of utterance ``index``."""

    index: int
    final: bool
    start_sample: int
    end_sample: int
    audio: np.ndarray
    wall: float  # finals: arrival of the audio holding the speech end; partials: arrival of the newest audio
    speech_ratio: float

    @property
    def start(self) -> float:
        return self.start_sample / SAMPLE_RATE

    @property
    def end(self) -> float:
        return self.end_sample / SAMPLE_RATE


class _Buffer:
    """Growable sample buffer addressed by absolute sample index, trimmed from the front."""

    def __init__(self) -> None:
        self._data = np.zeros(SAMPLE_RATE * 4, dtype=np.float32)
        self.start = 0  # absolute index of _data[0]
        self._len = 0

    @property
    def end(self) -> int:
        return self.start + self._len

    def append(self, x: np.ndarray) -> None:
        need = self._len + len(x)
        if need > len(self._data):
            grown = np.zeros(max(need, 2 * len(self._data)), dtype=np.float32)
            grown[: self._len] = self._data[: self._len]
            self._data = grown
        self._data[self._len : need] = x
        self._len = need

    def slice(self, a: int, b: int) -> np.ndarray:
        return self._data[a - self.start : b - self.start].copy()

    def trim_before(self, sample: int) -> None:
        drop = min(max(0, sample - self.start), self._len)
        if drop:
            self._data[: self._len - drop] = self._data[drop : self._len]
            self._len -= drop
            self.start += drop


class Segmenter:
    """Endpointing state machine for one leg; ``push`` and ``finish`` return the cuts to decode."""

    def __init__(self, settings: AsrSettings, vad: StreamingVad | None = None) -> None:
        self.threshold = settings.vad_threshold
        self.neg_threshold = max(0.01, settings.vad_threshold - NEG_THRESHOLD_GAP)
        self.endpoint = int(settings.endpointing_ms * SAMPLE_RATE / 1000)
        self.max_len = int(settings.max_utterance_s * SAMPLE_RATE)
        self.partial_every = int(settings.partial_interval_s * SAMPLE_RATE)
        self.vad = vad or StreamingVad()
        self.buf = _Buffer()
        self.pre_roll = int(PRE_ROLL_S * SAMPLE_RATE)
        self.post_pad = int(POST_PAD_S * SAMPLE_RATE)
        self.min_speech_windows = max(1, round(MIN_SPEECH_S * SAMPLE_RATE / WINDOW))
        self.next_index = 0
        self.committed_end = 0  # no audio before this is ever decoded again
        self._in_speech = False
        self._reset_utterance(0)
        self._finished = False

    def _reset_utterance(self, start: int) -> None:
        self.utt_start = start
        self._probs: list[float] = []  # one per window since utt_start's window
        self._first_window = start // WINDOW
        self._speech_windows = 0
        self._silence = 0
        self._last_speech_end = start
        self._last_speech_wall = 0.0
        self._last_partial_end = start
        self._index: int | None = None

    def push(self, samples: np.ndarray, arrival: float) -> list[Cut]:
        """Add audio that arrived at wall time ``arrival``; returns finished finals and due partials."""
        if self._finished:
            raise RuntimeError("segmenter already finished")
        self.buf.append(samples)
        probs = self.vad.process(samples)
        first = self.vad.windows - len(probs)
        cuts: list[Cut] = []
        for i, p in enumerate(probs):
            self._window(first + i, float(p), arrival, cuts)
        if self._in_speech:
            self.buf.trim_before(self.utt_start)
            partial = self._maybe_partial(arrival)
            if partial is not None:
                cuts.append(partial)
        else:
            self.buf.trim_before(max(self.committed_end, self.buf.end - self.pre_roll - WINDOW))
        return cuts

    def finish(self, now: float) -> list[Cut]:
        """End of stream: the open utterance (if it held speech) becomes its final."""
        self._finished = True
        if not self._in_speech:
            return []
        self._in_speech = False
        if self._speech_windows < self.min_speech_windows and self._index is None:
            return []
        return [self._final(self.buf.end, self._last_speech_wall or now)]

    def _window(self, w: int, p: float, arrival: float, cuts: list[Cut]) -> None:
        w_end = (w + 1) * WINDOW
        if not self._in_speech:
            if p >= self.threshold:
                self._in_speech = True
                self._reset_utterance(max(self.committed_end, self.buf.start, w * WINDOW - self.pre_roll))
                self._first_window = w
                self._speech(w_end, arrival)
                self._probs.append(p)
            return
        self._probs.append(p)
        if p >= self.threshold:
            self._speech(w_end, arrival)
        elif p < self.neg_threshold:
            self._silence += WINDOW
        if self._silence >= self.endpoint:
            self._in_speech = False
            if self._speech_windows >= self.min_speech_windows or self._index is not None:
                cuts.append(self._final(min(w_end, self._last_speech_end + self.post_pad), self._last_speech_wall))
            else:
                self.committed_end = max(self.committed_end, self.utt_start)
        elif w_end - self.utt_start >= self.max_len:
            cuts.append(self._split(w_end, arrival))

    def _speech(self, w_end: int, arrival: float) -> None:
        self._speech_windows += 1
        self._silence = 0
        self._last_speech_end = w_end
        self._last_speech_wall = arrival

    def _claim_index(self) -> int:
        if self._index is None:
            self._index = self.next_index
            self.next_index += 1
        return self._index

    def _final(self, end: int, wall: float) -> Cut:
        cut = Cut(
            index=self._claim_index(),
            final=True,
            start_sample=self.utt_start,
            end_sample=end,
            audio=self.buf.slice(self.utt_start, end),
            wall=wall,
            speech_ratio=self._speech_ratio(),
        )
        self.committed_end = end
        return cut

    def _speech_ratio(self) -> float:
        return self._speech_windows / max(1, len(self._probs))

    def _split(self, w_end: int, arrival: float) -> Cut:
        """Over-long utterance: cut at the quietest window of its second half and carry on from there."""
        half = len(self._probs) // 2
        quiet = half + int(np.argmin(self._probs[half:]))
        cut_at = (self._first_window + quiet) * WINDOW + WINDOW // 2
        cut_at = min(max(cut_at, self.utt_start + WINDOW), w_end)
        final = self._final(cut_at, arrival)
        rest = self._probs[quiet + 1 :]
        self._reset_utterance(cut_at)
        self._first_window = self._first_window_after(cut_at)
        self._probs = rest
        self._speech_windows = sum(1 for p in rest if p >= self.threshold)
        self._last_speech_end = w_end
        self._last_speech_wall = arrival
        return final

    @staticmethod
    def _first_window_after(sample: int) -> int:
        return sample // WINDOW + 1

    def _maybe_partial(self, arrival: float) -> Cut | None:
        end = self.buf.end
        if (
            self.partial_every <= 0
            or end - self._last_partial_end < self.partial_every
            or end - self.utt_start < MIN_PARTIAL_S * SAMPLE_RATE
            or self._speech_windows < self.min_speech_windows
            or self._silence > 0  # a pause may be the end: the final is due soon, a partial is wasted
        ):
            return None
        self._last_partial_end = end
        return Cut(
            index=self._claim_index(),
            final=False,
            start_sample=self.utt_start,
            end_sample=end,
            audio=self.buf.slice(self.utt_start, end),
            wall=arrival,
            speech_ratio=self._speech_ratio(),
        )
