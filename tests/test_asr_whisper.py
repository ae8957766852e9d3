"""The real Whisper model through the streaming engine, on short synthesized fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.wav import FIXTURES, read_wav

from asr.audio import SAMPLE_RATE as SR
from asr.engine import AsrEngine, transcribe_stream
from asr.whisper import WhisperRecognizer
from config import AsrSettings
from gpu.batching import decode_finals
from gpu.device import plan_device

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recognizer(whisper_path: Path) -> WhisperRecognizer:
    return WhisperRecognizer(whisper_path, plan_device("cpu", "int8", workers=2))


@pytest.fixture(scope="module")
def engine(recognizer: WhisperRecognizer):
    eng = AsrEngine(recognizer, AsrSettings(partial_interval_s=0.5))
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def lost_card() -> np.ndarray:
    return read_wav(FIXTURES / "audio" / "ja_lost_card.wav")


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    return read_wav(FIXTURES / "audio" / "ja_points.wav")


def test_two_japanese_utterances_live(engine: AsrEngine, lost_card: np.ndarray, points: np.ndarray) -> None:
    gap = np.zeros(SR, np.float32)
    audio = np.concatenate([gap[: SR // 2], lost_card, gap, points])  # ends without trailing silence
    events = transcribe_stream(engine, audio, 20, call_id="live", language="ja", realtime=True, timeout=60)
    finals = [e for e in events if e.final]
    assert [e.utterance_id for e in finals] == ["customer-0", "customer-1"]
    assert "カード" in finals[0].text
    assert "ポイント" in finals[1].text
    # timestamps: inside the audio, ordered, each around its utterance
    split = (0.5 * SR + len(lost_card) + SR) / SR
    assert 0.4 <= finals[0].start < finals[0].end <= split + 0.1
    assert split - 0.3 <= finals[1].start < finals[1].end <= len(audio) / SR + 0.01
    assert finals[1].end == pytest.approx(len(audio) / SR, abs=0.05)  # trailing utterance flushed at close
    # partials (if any were decoded in time) come before their final, and none after it
    for final in finals:
        i = events.index(final)
        assert all(not e.final for e in events[:i] if e.utterance_id == final.utterance_id)
        assert all(e.utterance_id != final.utterance_id for e in events[i + 1 :])
    assert any(not e.final for e in events), "a 3 s utterance fed in real time should show a partial"
    assert all(e.language == "ja" and e.latency_s >= 0 for e in events)


def test_english_with_language_detection(engine: AsrEngine) -> None:
    audio = read_wav(FIXTURES / "audio" / "en_refund.wav")
    events = transcribe_stream(engine, audio, 100, call_id="en", language=None, timeout=60)
    finals = [e for e in events if e.final]
    assert len(finals) == 1
    assert finals[0].language == "en"
    assert "refund" in finals[0].text.lower() and "return" in finals[0].text.lower()


def test_glossary_prompt_is_bounded_and_used(recognizer: WhisperRecognizer, lost_card: np.ndarray) -> None:
    eng = AsrEngine(recognizer, AsrSettings(partial_interval_s=0))
    try:
        eng.set_glossary(["紛失", "盗難", "再発行"] + [f"商品{i:03d}番のカード" for i in range(200)])
        prompt = eng.prompt("ja")
        assert prompt is not None and prompt.startswith("紛失、盗難、再発行、")
        assert recognizer.count_tokens(prompt) <= 160
        assert eng.prompt("en") is None  # no Latin terms: English decodes stay unprompted
        events = transcribe_stream(eng, lost_card, 100, language="ja", timeout=60)
    finally:
        eng.close()
    assert len(events) == 1 and "カード" in events[0].text


def test_batched_finals_match_single_decodes(recognizer: WhisperRecognizer, lost_card: np.ndarray, points: np.ndarray) -> None:
    """The cross-call batching path (used on GPU) also runs on the CPU: same words, right order."""
    batch = decode_finals(recognizer, [points, lost_card], language="ja", beam_size=5, prompt=None)
    assert len(batch) == 2
    assert "ポイント" in batch[0].text and "カード" in batch[1].text


def test_full_window_path_agrees(whisper_path: Path, recognizer: WhisperRecognizer, lost_card: np.ndarray, points: np.ndarray) -> None:
    """Short audio context (the default) and Whisper's 30 s window both find the words."""
    full = WhisperRecognizer(whisper_path, plan_device("cpu", "int8", workers=1), context_pad_s=None)
    short = recognizer.transcribe(lost_card, language="ja")
    assert "カード" in short.text and "カード" in full.transcribe(lost_card, language="ja").text
    assert short.no_speech_prob < 0.5 and short.avg_logprob > -1.0
    batch = full.transcribe_batch([points, lost_card], language="ja")  # BatchedInferencePipeline clips
    assert "ポイント" in batch[0].text and "カード" in batch[1].text
