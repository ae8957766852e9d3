"""Cross-call batching of finals: on a GPU one batched pass over several calls' utterances costs
little more than one, so workers take up to ``batch_size`` queued finals of one language at once.

On the CPU batching buys nothing (compute scales with the batch), so the limit there is 1.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from asr.base import Recognizer, Transcription

log = logging.getLogger(__name__)


@runtime_checkable
class BatchRecognizer(Protocol):
    """A ``Recognizer`` that can also decode several same-language utterances in one pass."""

    device: str

    def transcribe_batch(
        self, audios: Sequence[np.ndarray], *, language: str, beam_size: int = 5, prompt: str | None = None
    ) -> list[Transcription]: ...


def batch_limit(recognizer: Recognizer, batch_size: int) -> int:
    """How many finals one worker may take at once: ``batch_size`` on CUDA, else 1."""
    if isinstance(recognizer, BatchRecognizer) and recognizer.device == "cuda":
        return max(1, batch_size)
    return 1


def decode_finals(
    recognizer: Recognizer,
    audios: Sequence[np.ndarray],
    *,
    language: str | None,
    beam_size: int,
    prompt: str | None,
) -> list[Transcription]:
    """Decode finals, batched when there are several of a known language and the recognizer can."""
    if len(audios) > 1 and language is not None and isinstance(recognizer, BatchRecognizer):
        return recognizer.transcribe_batch(audios, language=language, beam_size=beam_size, prompt=prompt)
    return [recognizer.transcribe(a, language=language, beam_size=beam_size, prompt=prompt) for a in audios]
