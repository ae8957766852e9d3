"""Device choice and cross-call batching; the CUDA test skips cleanly where CTranslate2 sees no GPU."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from support.wav import FIXTURES, read_wav

import gpu.device as device
from asr.base import Transcription
from asr.engine import AsrEngine
from config import AsrSettings
from gpu.batching import batch_limit, decode_finals
from gpu.device import plan_device


def test_cpu_plan_fits_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "cuda_device_count", lambda: 0)
    plan = plan_device(cores=2)
    assert (plan.device, plan.compute_type) == ("cpu", "int8")
    assert plan.num_workers * plan.cpu_threads <= 2
    assert plan_device(cores=8, workers=2).cpu_threads == 4
    with pytest.raises(RuntimeError):
        plan_device("cuda")
    with pytest.raises(ValueError):
        plan_device("cpu", "float16")


def test_cuda_plan_when_a_gpu_is_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "cuda_device_count", lambda: 1)
    plan = plan_device()
    assert (plan.device, plan.compute_type) == ("cuda", "float16")
    assert plan_device("auto", "int8_float16").compute_type == "int8_float16"
    assert plan_device("cpu").device == "cpu"


class FakeBatchRecognizer:
    """Pretends to be on CUDA; records how many finals each call decoded."""

    name = "fake-gpu"
    device = "cuda"

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.lock = threading.Lock()

    def transcribe(self, audio, *, language, beam_size=5, prompt=None) -> Transcription:
        with self.lock:
            self.batches.append(1)
        time.sleep(0.05)
        return Transcription(text=f"u{len(audio)}", language=language or "ja")

    def transcribe_batch(self, audios, *, language, beam_size=5, prompt=None) -> list[Transcription]:
        with self.lock:
            self.batches.append(len(audios))
        time.sleep(0.2)
        return [Transcription(text=f"u{len(a)}", language=language) for a in audios]


def test_batch_limit_only_on_cuda() -> None:
    fake = FakeBatchRecognizer()
    assert batch_limit(fake, 8) == 8
    fake.device = "cpu"
    assert batch_limit(fake, 8) == 1
    out = decode_finals(fake, [np.zeros(10), np.zeros(20)], language="ja", beam_size=5, prompt=None)
    assert [t.text for t in out] == ["u10", "u20"] and fake.batches == [2]


def test_engine_batches_finals_across_calls() -> None:
    speech = read_wav(FIXTURES / "audio" / "ja_lost_card.wav")
    audio = np.concatenate([np.zeros(8000, np.float32), speech, np.zeros(16000, np.float32)])
    rec = FakeBatchRecognizer()
    engine = AsrEngine(rec, AsrSettings(workers=1, batch_size=4, partial_interval_s=0))
    got: dict[str, list[str]] = {}
    try:
        legs = []
        for n in range(6):
            got[f"c{n}"] = []
            legs.append(engine.open_leg(f"c{n}", "customer", language="ja", on_event=lambda e, n=n: got[f"c{n}"].append(e.text)))
        for leg in legs:
            leg.feed(audio)
            leg.close()
        assert all(leg.join(20) for leg in legs)
    finally:
        engine.close()
    assert all(len(texts) == 1 and texts[0].startswith("u") for texts in got.values())
    assert sum(rec.batches) == 6 and max(rec.batches) > 1


@pytest.mark.gpu
def test_whisper_on_cuda_batched(whisper_path: Path) -> None:
    if device.cuda_device_count() == 0:
        pytest.skip("no CUDA device visible to CTranslate2")
    from asr.whisper import WhisperRecognizer

    rec = WhisperRecognizer(whisper_path, plan_device("cuda"))
    speech = read_wav(FIXTURES / "audio" / "ja_lost_card.wav")
    single = rec.transcribe(speech, language="ja")
    batch = rec.transcribe_batch([speech] * 4, language="ja")
    assert "カード" in single.text and all("カード" in t.text for t in batch)
