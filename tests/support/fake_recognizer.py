"""A fast recognizer for the pool's tests (``tests/test_asr_serve_pool.py``): its text tells which audio, which
context and which options it decoded, so a result can be checked against the caller that sent it.

Ray's replicas import it as ``support.fake_recognizer`` (the test puts ``tests/`` on their ``PYTHONPATH``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from asr.base import FinalContext, Transcription, Word

FAIL_PROMPT = "fail"  # finals decoded with this prompt raise, as a broken model would
DECODE_S = 0.05  # each decode call sleeps this long by default: a (very fast) model whose cost is per batch


def tagged(tag: int, seconds: float = 1.0) -> np.ndarray:
    """Audio that names its sender: every sample is ``tag / 1000``."""
    return np.full(int(seconds * 16000), tag / 1000, np.float32)


def tag_of(audio: np.ndarray) -> int:
    return round(float(audio[0]) * 1000) if len(audio) else -1


class FakeRecognizer:
    """Texts like ``final:7 ctx=hello/16000 ja beam=5``: the tag, the context's text and length, the options."""

    name = "fake"
    context_audio_s = 10.0

    def __init__(self, decode_s: float = DECODE_S) -> None:
        self.decode_s = decode_s
        self.calls: list[int] = []  # batch sizes of transcribe_finals, in order

    def transcribe(self, audio: np.ndarray, *, language: str | None, beam_size: int = 5,
                   prompt: str | None = None) -> Transcription:
        return self.transcribe_finals([audio], language=language, beam_size=beam_size, prompt=prompt,
                                      contexts=[None])[0]

    def transcribe_finals(self, audios: Sequence[np.ndarray], *, language: str | None, beam_size: int = 5,
                          prompt: str | None = None,
                          contexts: Sequence[FinalContext | None]) -> list[Transcription]:
        if prompt == FAIL_PROMPT:
            raise RuntimeError("the fake model broke")
        self.calls.append(len(audios))
        time.sleep(self.decode_s)
        out = []
        for audio, ctx in zip(audios, contexts, strict=True):
            context = f"{ctx.text}/{len(ctx.audio)}" if ctx is not None else "-"
            text = f"final:{tag_of(audio)} ctx={context} {language} beam={beam_size}"
            out.append(Transcription(text=text, language=language or "ja", avg_logprob=-0.25,
                                     words=(Word("final", 0.9), Word(f":{tag_of(audio)}", 0.5))))
        return out

    def transcribe_partial(self, audio: np.ndarray, *, language: str | None, beam_size: int = 1) -> Transcription:
        return Transcription(text=f"partial:{tag_of(audio)} beam={beam_size}", language=language or "ja")
