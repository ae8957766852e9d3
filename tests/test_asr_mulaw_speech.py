"""Telephone speech end to end: 8 kHz G.711 μ-law frames → AudioDecoder → streaming engine → whisper-base."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soxr
from support.wav import FIXTURES, read_wav

from asr.audio import MULAW_TABLE, AudioDecoder
from asr.base import Utterance
from asr.engine import AsrEngine
from asr.whisper import WhisperRecognizer
from config import AsrSettings
from eval.asr import score
from gpu.device import plan_device

pytestmark = pytest.mark.slow

# (fixture, the sentence scripts/make_fixtures.py synthesized it from)
SPEECH = [
    ("ja_points.wav", "えーと、ポイントが付与されてないみたいなんですけど。"),
    ("ja_lost_card.wav", "クレジットカードをなくしてしまいました。"),
]
FRAME = 160  # 20 ms of 8 kHz μ-law, a usual RTP / Twilio payload


def g711_mulaw(x: np.ndarray) -> bytes:
    """The G.711 μ-law encoder (bias 0x84, clip 32635, segment + 4-bit mantissa, bits inverted)."""
    pcm = np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int32)
    sign = np.where(pcm < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(pcm), 32635) + 0x84
    exponent = np.searchsorted(256 << np.arange(7), magnitude, side="right")
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


@pytest.fixture(scope="module")
def engine(whisper_path: Path):
    eng = AsrEngine(WhisperRecognizer(whisper_path, plan_device("cpu", "int8", workers=2)),
                    AsrSettings(partial_interval_s=0))
    yield eng
    eng.close()


def test_encoder_matches_the_g711_decoder() -> None:
    assert g711_mulaw(np.zeros(1)) == b"\xff" and g711_mulaw(np.array([-1.0])) == b"\x00"
    x = read_wav(FIXTURES / "audio" / "ja_points.wav")
    back = MULAW_TABLE[np.frombuffer(g711_mulaw(x), np.uint8)]
    snr_db = 10 * np.log10(np.sum(x**2) / np.sum((x - back) ** 2))
    assert snr_db > 30, snr_db  # μ-law keeps speech at about 35-38 dB


@pytest.mark.parametrize(("name", "text"), SPEECH, ids=[name for name, _ in SPEECH])
def test_mulaw_8k_speech_is_transcribed(engine: AsrEngine, name: str, text: str) -> None:
    speech = read_wav(FIXTURES / "audio" / name)
    payload = g711_mulaw(soxr.resample(speech, 16000, 8000))
    assert len(payload) == pytest.approx(len(speech) / 2, abs=2)
    events: list[Utterance] = []
    lock = threading.Lock()

    def collect(event: Utterance) -> None:
        with lock:
            events.append(event)

    decoder = AudioDecoder("mulaw", 8000, 1)
    leg = engine.open_leg(f"tel-{name}", "customer", language="ja", on_event=collect)
    fed = 0
    for i in range(0, len(payload), FRAME):
        (samples,) = decoder.feed(payload[i : i + FRAME])
        leg.feed(samples)
        fed += len(samples)
    (tail,) = decoder.flush()
    leg.feed(tail)
    leg.close()
    assert leg.join(60), "the leg did not finish"
    assert abs(fed + len(tail) - len(speech)) <= 16  # back at 16 kHz, nothing lost or doubled

    finals = [e for e in events if e.final]
    assert finals and all(e.language == "ja" for e in finals)
    hyp = "".join(e.text for e in finals)
    cer = score([text], [hyp], "ja")
    assert cer <= 0.25, (cer, hyp)
