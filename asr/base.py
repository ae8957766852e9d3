"""The speech-recognition stage's contracts: one decode (``Recognizer``), the streaming stage built on it
(``StreamingRecognizer`` / ``LegAudio``) and their typed outputs.

Streaming (VAD cutting, partials, scheduling across calls) is built on top of a ``Recognizer`` in
this package (``asr.engine.AsrEngine``); the live service sees only ``StreamingRecognizer`` and the
``Utterance`` events it delivers (``assist.events.TranscriptEvent.of`` turns one into the wire event).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol, runtime_checkable

import numpy as np

Leg = Literal["customer", "agent"]


class Word(NamedTuple):
    """A piece of a final's text (whole characters, one or more tokens) and the recognizer's probability of it
    (``asr/confidence.py``): what marks a number as uncertain (``summarize/uncertain.py``)."""

    text: str
    probability: float


@dataclass(frozen=True, slots=True)
class Transcription:
    """Result of decoding one stretch of 16 kHz mono float32 audio."""

    text: str
    language: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 1.0
    words: tuple[Word, ...] = ()  # finals of beam search only; their texts joined give the decoded text


@runtime_checkable
class Recognizer(Protocol):
    """Decodes whole utterances; thread-safe, so several workers may share one instance."""

    name: str

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        beam_size: int = 5,
        prompt: str | None = None,
    ) -> Transcription: ...


@runtime_checkable
class PartialRecognizer(Protocol):
    """A ``Recognizer`` with a cheaper decode for partials (``asr.final_context``: finals keep the accurate one)."""

    def transcribe_partial(self, audio: np.ndarray, *, language: str | None, beam_size: int = 1) -> Transcription: ...


@dataclass(frozen=True, slots=True)
class FinalContext:
    """A leg's previous final: its audio and the text finalized for it (``asr/context.py``)."""

    audio: np.ndarray
    text: str


@runtime_checkable
class ContextRecognizer(Protocol):
    """A ``Recognizer`` that decodes finals after their leg's previous utterance (``asr.final_context_audio_s``)."""

    def transcribe_finals(
        self,
        audios: Sequence[np.ndarray],
        *,
        language: str | None,
        beam_size: int = 5,
        prompt: str | None = None,
        contexts: Sequence[FinalContext | None],
    ) -> list[Transcription]: ...


class Correction(NamedTuple):
    """One vocabulary correction of a final (``asr/vocab.py``): ``text[start:end]`` was ``original``."""

    original: str
    replacement: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Utterance:
    """One partial or final hypothesis of an utterance on a call leg.

    ``start``/``end`` are seconds from call start (audio time). A final supersedes every partial
    with the same ``utterance_id``. ``latency_s`` is wall time from the end of speech (finals) or
    from the audio's arrival (partials) to this event.
    """

    call_id: str
    leg: Leg
    utterance_id: str
    text: str
    final: bool
    start: float
    end: float
    language: str
    latency_s: float = 0.0
    corrections: tuple[Correction, ...] = ()  # vocabulary corrections applied to ``text`` (finals only)
    words: tuple[Word, ...] = ()  # the decode's pieces with probabilities (finals only; before corrections)


@runtime_checkable
class LegAudio(Protocol):
    """One call leg's audio input (``StreamingRecognizer.open_leg``); its ``Utterance`` events go to the
    ``on_event`` it was opened with, on the recognizer's threads."""

    def feed(self, samples: np.ndarray) -> None:
        """Queue 16 kHz mono float32 audio; never blocks the caller on a decode."""
        ...

    def close(self) -> None:
        """No more audio: the trailing utterance still gets its final (``join`` waits for it)."""
        ...

    def join(self, timeout: float | None = None) -> bool:
        """Wait until ``close`` has delivered the last final; ``True`` when done."""
        ...

    @property
    def lag_s(self) -> float:
        """Age of the oldest audio not yet turned into events (the service's back-pressure signal)."""
        ...


@runtime_checkable
class StreamingRecognizer(Protocol):
    """The streaming stage the live service drives: one ``LegAudio`` per call leg, shared decode workers."""

    def open_leg(self, call_id: str, leg: Leg, *, language: str | None,
                 on_event: Callable[[Utterance], None]) -> LegAudio:
        """Start a leg; ``language=None`` detects it per utterance. Raises ``ValueError`` if it is open."""
        ...

    def stats(self) -> dict[str, float | int]:
        """Queue depths and counters for the metrics (``queue_finals``, ``queue_partials``, ...)."""
        ...
