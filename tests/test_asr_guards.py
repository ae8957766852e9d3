"""Hallucination guards: no text from silence, line noise, tones, DTMF or music-like chords."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asr.audio import SAMPLE_RATE as SR
from asr.base import Transcription
from asr.engine import AsrEngine, transcribe_stream
from asr.guards import clean_text, collapse_loops
from asr.whisper import WhisperRecognizer
from config import AsrSettings
from gpu.device import plan_device

SECONDS = 4


def _t() -> np.ndarray:
    return np.arange(SECONDS * SR) / SR


def _chord(freqs: list[float], seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)).astype(np.float32)


def _dtmf() -> np.ndarray:
    out = np.zeros(SECONDS * SR, np.float32)
    for k, pair in enumerate([(697, 1209), (770, 1336), (852, 1477), (941, 1336), (697, 1477), (770, 1209)]):
        start = int(k * 0.6 * SR)
        out[start : start + SR // 4] = _chord(list(pair), 0.25)
    return out


def _music() -> np.ndarray:
    t = _t()
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 2 * t))
    tones = sum(np.sin(2 * np.pi * f * k * t) / k for f in (220.0, 277.2, 329.6) for k in (1, 2, 3))
    return (0.1 * tones * envelope).astype(np.float32)


rng = np.random.default_rng(7)
NON_SPEECH = {
    "silence": np.zeros(SECONDS * SR, np.float32),
    "white_noise": (0.1 * rng.standard_normal(SECONDS * SR)).astype(np.float32),
    "line_hum": (0.1 * np.sin(2 * np.pi * 60 * _t()) + 0.01 * rng.standard_normal(SECONDS * SR)).astype(np.float32),
    "tone_1khz": _chord([1000], SECONDS),
    "busy_signal": _chord([480, 620], SECONDS) * (np.sin(2 * np.pi * _t()) > 0),
    "dtmf": _dtmf(),
    "chords": np.concatenate([_chord(c, 1.0) for c in ([261.6, 329.6, 392.0], [220, 277.2, 329.6])] * 2),
    "hold_music": _music(),
}


@pytest.fixture(scope="module")
def recognizer(whisper_path: Path) -> WhisperRecognizer:
    return WhisperRecognizer(whisper_path, plan_device("cpu", "int8", workers=2))


@pytest.fixture(scope="module")
def engine(recognizer: WhisperRecognizer):
    eng = AsrEngine(recognizer, AsrSettings(partial_interval_s=0.5))
    yield eng
    eng.close()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NON_SPEECH))
def test_non_speech_gives_no_events(engine: AsrEngine, name: str) -> None:
    events = transcribe_stream(engine, NON_SPEECH[name], 20, call_id=name, language="ja", timeout=60)
    assert events == []


@pytest.mark.slow
@pytest.mark.parametrize("name", ["silence", "white_noise", "tone_1khz", "dtmf"])
def test_guards_catch_whisper_hallucinations_behind_the_vad(recognizer: WhisperRecognizer, name: str) -> None:
    """Second line of defence: decode the non-speech directly (as if VAD had let it through)."""
    tr = recognizer.transcribe(NON_SPEECH[name], language="ja")
    assert clean_text(tr, speech_ratio=0.0) == "", tr


def tr(text: str, **kw: float) -> Transcription:
    return Transcription(text=text, language="ja", **kw)


def test_broadcast_phrase_dropped_unless_clearly_spoken() -> None:
    assert clean_text(tr("ご視聴ありがとうございました。", avg_logprob=-0.5), speech_ratio=0.3) == ""
    assert clean_text(tr("Thanks for watching!", avg_logprob=-0.2), speech_ratio=0.4) == ""
    kept = clean_text(tr("ご視聴ありがとうございました", avg_logprob=-0.1), speech_ratio=0.95)
    assert kept == "ご視聴ありがとうございました"


def test_low_confidence_and_no_speech_dropped() -> None:
    assert clean_text(tr("はい", avg_logprob=-1.5), speech_ratio=1.0) == ""
    assert clean_text(tr("えー", avg_logprob=-0.9, no_speech_prob=0.8), speech_ratio=1.0) == ""
    assert clean_text(tr("(音楽)"), speech_ratio=1.0) == ""
    assert clean_text(tr("♪～♪"), speech_ratio=1.0) == ""


def test_repetition_loops() -> None:
    assert collapse_loops("はい、はい、はい、はい、はい") == "はい"
    assert collapse_loops("カードを紛失しました") == "カードを紛失しました"
    loop = "スタッフのスタッフのスタッフのスタッフのスタッフの"
    assert clean_text(tr(loop, compression_ratio=5.0), speech_ratio=0.9) == ""
    assert clean_text(tr(loop), speech_ratio=0.2) == ""
    assert clean_text(tr("はい、はい、はい、はい、わかりました", avg_logprob=-0.2), speech_ratio=0.9) == "はい、わかりました"


def test_real_speech_passes() -> None:
    text = "クレジットカードをなくしてしまいました。"
    assert clean_text(tr(text, avg_logprob=-0.3, no_speech_prob=0.04), speech_ratio=0.85) == text
