"""A recognizer that always "hears" one given text, and the finals the real engine makes of it: for tests of what
the engine does after decoding (vocabulary correction, glossary wiring), with real audio and VAD in front."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from asr.base import Transcription, Utterance
from asr.engine import AsrEngine, transcribe_stream
from config import AsrSettings
from support.wav import FIXTURES, read_wav


class ScriptedRecognizer:
    name = "scripted"

    def __init__(self, text: str) -> None:
        self.text = text

    def transcribe(self, audio: np.ndarray, *, language: str | None, beam_size: int = 5,
                   prompt: str | None = None) -> Transcription:
        return Transcription(text=self.text, language=language or "ja", avg_logprob=-0.2)


def scripted_finals(settings: AsrSettings, text: str, terms: list[str] | None = None,
                    counts: list[int] | None = None, vocabulary: Sequence[str] = ()) -> list[Utterance]:
    """The finals of one spoken utterance (a real fixture) decoded as ``text``, after ``set_glossary(terms,
    vocabulary=…)`` when ``terms`` is given; ``counts`` collects the corrections hook's calls."""
    speech = read_wav(FIXTURES / "audio" / "ja_lost_card.wav")
    audio = np.concatenate([np.zeros(8000, np.float32), speech, np.zeros(16000, np.float32)])
    engine = AsrEngine(ScriptedRecognizer(text), settings, on_corrections=None if counts is None else counts.append)
    try:
        if terms is not None:
            engine.set_glossary(terms, vocabulary=vocabulary)
        return [e for e in transcribe_stream(engine, audio, 100, language="ja", timeout=30) if e.final]
    finally:
        engine.close()
