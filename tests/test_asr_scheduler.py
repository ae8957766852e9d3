"""Scheduling across calls: finals first, partials droppable, finals never lost; engine with a fake model."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from support.wav import FIXTURES, read_wav

from asr.audio import SAMPLE_RATE as SR
from asr.base import Transcription, Utterance
from asr.engine import AsrEngine, transcribe_stream
from asr.scheduler import DecodeScheduler, Job
from config import AsrSettings


class FakeRecognizer:
    """Answers instantly (or after ``delay``) with the utterance length, and records every call."""

    name = "fake"

    def __init__(self, delay: float = 0.0, detected: str = "ja") -> None:
        self.delay = delay
        self.detected = detected
        self.calls: list[dict] = []
        self.lock = threading.Lock()

    def transcribe(self, audio, *, language, beam_size=5, prompt=None) -> Transcription:
        with self.lock:
            self.calls.append({"n": len(audio), "language": language, "beam": beam_size, "prompt": prompt})
        time.sleep(self.delay)
        return Transcription(text=f"発話{len(audio)}", language=language or self.detected, avg_logprob=-0.2)


@pytest.fixture(scope="module")
def two_utterances() -> np.ndarray:
    speech = read_wav(FIXTURES / "audio" / "ja_lost_card.wav")
    gap = np.zeros(SR, np.float32)
    return np.concatenate([gap, speech, gap, speech])  # the second one ends without trailing silence


def job(key: str, final: bool, language: str | None = "ja") -> Job:
    return Job(key=key, final=final, payload=key, language=language)


def test_finals_before_partials_and_partials_replaced() -> None:
    s = DecodeScheduler(8, workers=1)
    s.submit(job("a", False))
    s.submit(job("a", False))  # replaces the older partial of leg a
    s.submit(job("b", False))
    s.submit(job("c", True))
    assert s.dropped_partials == 1
    assert s.take(0, timeout=0)[0].key == "c"
    assert {s.take(0, timeout=0)[0].key, s.take(0, timeout=0)[0].key} == {"a", "b"}
    assert s.take(0, timeout=0) == []


def test_worker_zero_reserved_for_finals() -> None:
    s = DecodeScheduler(8, workers=2)
    s.submit(job("a", False))
    assert s.take(0, timeout=0.01) == []
    assert s.take(1, timeout=0)[0].key == "a"


def test_full_final_queue_waits_instead_of_dropping() -> None:
    s = DecodeScheduler(1, workers=1)
    assert s.submit(job("a", True))
    assert not s.submit(job("b", True), timeout=0.05)  # producer would wait; nothing is discarded
    assert s.depth() == (1, 0)
    threading.Timer(0.05, lambda: s.take(0)).start()
    assert s.submit(job("b", True), timeout=2)
    assert s.take(0, timeout=0)[0].key == "b"


def test_batches_same_language_finals() -> None:
    s = DecodeScheduler(8, workers=1)
    for key, lang in (("a", "ja"), ("b", "en"), ("c", "ja"), ("d", "ja")):
        s.submit(job(key, True, lang))
    assert [j.key for j in s.take(0, max_finals=2)] == ["a", "c"]
    assert [j.key for j in s.take(0, max_finals=4)] == ["b"]
    assert [j.key for j in s.take(0, max_finals=4)] == ["d"]


def test_stale_partials_dropped_and_close_drains_finals() -> None:
    s = DecodeScheduler(8, workers=1, is_stale=lambda j: j.key == "old")
    s.submit(job("old", False))
    assert s.take(0, timeout=0) == [] and s.dropped_partials == 1
    s.submit(job("x", True))
    s.submit(job("new", False))
    s.close()
    assert not s.submit(job("y", True))
    assert s.take(0)[0].key == "x"
    assert s.take(0) is None
    assert s.dropped_partials == 2


def test_engine_one_final_per_utterance_partials_first(two_utterances: np.ndarray) -> None:
    rec = FakeRecognizer()
    engine = AsrEngine(rec, AsrSettings(workers=2, partial_interval_s=0.5))
    try:
        engine.set_glossary(["請求額", "紛失"])
        events = transcribe_stream(engine, two_utterances, 20, language="ja", timeout=30)
    finally:
        engine.close()
    finals = [e for e in events if e.final]
    assert [e.utterance_id for e in finals] == ["customer-0", "customer-1"]
    assert finals[1].end == pytest.approx(len(two_utterances) / SR, abs=0.05)  # flushed at close
    assert 0.5 < finals[0].start < finals[0].end < finals[1].start
    for final in finals:
        idx = events.index(final)
        assert all(e.final is False for e in events[:idx] if e.utterance_id == final.utterance_id)
        assert not any(e.utterance_id == final.utterance_id for e in events[idx + 1 :])
    final_calls = [c for c in rec.calls if c["beam"] == 5]
    partial_calls = [c for c in rec.calls if c["beam"] == 1]
    assert len(final_calls) == 2 and all(c["prompt"] == "請求額、紛失。" for c in final_calls)
    assert all(c["prompt"] is None for c in partial_calls)


def test_language_detected_once_and_kept(two_utterances: np.ndarray) -> None:
    rec = FakeRecognizer(detected="en")
    engine = AsrEngine(rec, AsrSettings(workers=1, partial_interval_s=0))
    try:
        events = transcribe_stream(engine, two_utterances, 100, language=None, timeout=30)
    finally:
        engine.close()
    assert [c["language"] for c in rec.calls] == [None, "en"]
    assert [e.language for e in events] == ["en", "en"]


def test_many_legs_behind_real_time_drop_partials_never_finals(two_utterances: np.ndarray) -> None:
    rec = FakeRecognizer(delay=0.15)
    engine = AsrEngine(rec, AsrSettings(workers=2, partial_interval_s=0.2))
    events: dict[str, list[Utterance]] = {}
    lags: list[float] = []
    try:
        legs = []
        for n in range(6):
            events[f"c{n}"] = []
            legs.append(engine.open_leg(f"c{n}", "customer", language="ja", on_event=events[f"c{n}"].append))
        step = SR // 10
        for i in range(0, len(two_utterances), step):
            for leg in legs:
                leg.feed(two_utterances[i : i + step])
            lags.append(max(leg.lag_s for leg in legs))
        for leg in legs:
            leg.close()
        assert all(leg.join(30) for leg in legs)
        stats = engine.stats()
    finally:
        engine.close()
    for evs in events.values():
        assert [e.utterance_id for e in evs if e.final] == ["customer-0", "customer-1"]
    assert stats["dropped_partials"] > 0 and stats["decodes_final"] == 12
    assert max(lags) > 0.0
    assert set(stats) >= {"queue_finals", "queue_partials", "dropped_partials", "decodes_final", "max_lag_s"}


def test_feed_never_blocks_and_validates() -> None:
    rec = FakeRecognizer(delay=0.5)
    engine = AsrEngine(rec, AsrSettings(workers=1))
    try:
        leg = engine.open_leg("call", "agent", language="ja", on_event=lambda e: None)
        started = time.perf_counter()
        for _ in range(200):
            leg.feed(np.zeros(320, np.float32))
        assert time.perf_counter() - started < 0.5
        with pytest.raises(ValueError) as err:
            leg.feed(np.zeros((2, 320), np.float32))
        assert getattr(err.value, "code", None) == "invalid_samples"
        with pytest.raises(ValueError):
            engine.open_leg("call", "agent", language="ja", on_event=lambda e: None)
        leg.close()
        assert leg.join(10)
    finally:
        engine.close()


def test_broken_subscriber_does_not_stop_the_engine(two_utterances: np.ndarray) -> None:
    engine = AsrEngine(FakeRecognizer(), AsrSettings(workers=1, partial_interval_s=0))

    def explode(event: Utterance) -> None:
        raise RuntimeError("subscriber bug")

    try:
        leg = engine.open_leg("x", "customer", language="ja", on_event=explode)
        leg.feed(two_utterances)
        leg.close()
        assert leg.join(10)
        assert len(transcribe_stream(engine, two_utterances, 100, language="ja", timeout=10)) == 2
    finally:
        engine.close()
