"""Cross-call batching of finals: on a GPU one batched pass over several calls' utterances costs
little more than one, so workers take up to ``batch_size`` queued finals of one language at once.

On the CPU batching buys nothing (compute scales with the batch), so the limit there is 1.
Generic over the decode result so this package stays below ``asr`` (whose ``Recognizer`` fits ``Decoder``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Decoder(Protocol[R_co]):
    """Decodes one utterance (``asr.base.Recognizer`` is one)."""

    def transcribe(
        self, audio: np.ndarray, *, language: str | None, beam_size: int = 5, prompt: str | None = None
    ) -> R_co: ...


@runtime_checkable
class BatchDecoder(Protocol[R]):
    """A ``Decoder`` that can also decode several same-language utterances in one pass."""

    device: str

    def transcribe_batch(
        self, audios: Sequence[np.ndarray], *, language: str, beam_size: int = 5, prompt: str | None = None
    ) -> list[R]: ...


def batch_limit(decoder: object, batch_size: int) -> int:
    """How many finals one worker may take at once: ``batch_size`` on CUDA, else 1."""
    if isinstance(decoder, BatchDecoder) and decoder.device == "cuda":
        return max(1, batch_size)
    return 1


def decode_finals(
    decoder: Decoder[R],
    audios: Sequence[np.ndarray],
    *,
    language: str | None,
    beam_size: int,
    prompt: str | None,
) -> list[R]:
    """Decode finals, batched when there are several of a known language and the decoder can."""
    if len(audios) > 1 and language is not None and isinstance(decoder, BatchDecoder):
        return decoder.transcribe_batch(audios, language=language, beam_size=beam_size, prompt=prompt)
    return [decoder.transcribe(a, language=language, beam_size=beam_size, prompt=prompt) for a in audios]
