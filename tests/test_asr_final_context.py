"""``asr.final_context``: finals over Whisper's whole 30 s window (the default), partials over the short context.

The first test needs no model (the engine routes partials to ``transcribe_partial``); the others spy on the
real model's encoder input to see which window each decode got, and check the full path's words.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.wav import FIXTURES, read_wav

from asr.audio import SAMPLE_RATE as SR
from asr.base import Transcription
from asr.engine import AsrEngine, transcribe_stream
from asr.short_context import MAX_FRAMES, window_frames
from asr.whisper import WhisperRecognizer
from common.text_ja import strip_fillers
from config import AsrSettings, Settings
from eval.asr import normalize_ja, score
from models import ModelRegistry

ASR_SET = Path(__file__).parent.parent / "eval" / "data" / "asr"


class _Routed:
    """Fake recognizer recording which method each decode went to."""

    name = "routed"

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def transcribe(self, audio: np.ndarray, *, language: str | None, beam_size: int = 5,
                   prompt: str | None = None) -> Transcription:
        with self._lock:
            self.calls.append(("final", beam_size))
        return Transcription(text="最終", language="ja", avg_logprob=-0.1)

    def transcribe_partial(self, audio: np.ndarray, *, language: str | None, beam_size: int = 1) -> Transcription:
        with self._lock:
            self.calls.append(("partial", beam_size))
        return Transcription(text="途中", language="ja", avg_logprob=-0.1)


def test_engine_sends_partials_to_the_partial_decode() -> None:
    rec = _Routed()
    engine = AsrEngine(rec, AsrSettings(partial_interval_s=0.5, workers=2))  # type: ignore[arg-type]
    try:
        audio = read_wav(FIXTURES / "audio" / "ja_lost_card.wav")
        events = transcribe_stream(engine, audio, 20, language="ja", realtime=True, timeout=30)
    finally:
        engine.close()
    kinds = {kind: beam for kind, beam in rec.calls}
    assert kinds == {"final": 5, "partial": 1}, rec.calls
    assert [e.text for e in events if e.final] == ["最終"]
    assert all(e.text == "途中" for e in events if not e.final)


def test_settings_default_to_full_finals() -> None:
    settings = AsrSettings()
    assert settings.final_context == "full"
    assert settings.context_pad_s == 5.0


class _EncoderSpy:
    """Wraps the CTranslate2 model: records (frames, beam_size) per decode and delegates everything."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._frames = threading.local()
        self.decodes: list[tuple[int, int]] = []
        self._lock = threading.Lock()

    def encode(self, features: Any, to_cpu: bool = False) -> Any:
        self._frames.n = int(features.shape[-1])
        return self._inner.encode(features, to_cpu=to_cpu)

    def generate(self, encoded: Any, prompts: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.decodes.append((getattr(self._frames, "n", -1), int(kwargs.get("beam_size", 5))))
        return self._inner.generate(encoded, prompts, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _spied(settings: Settings, registry: ModelRegistry) -> tuple[WhisperRecognizer, _EncoderSpy]:
    rec = WhisperRecognizer.from_settings(settings.asr, registry)
    spy = _EncoderSpy(rec.model.model)
    rec.model.model = spy  # type: ignore[assignment]
    return rec, spy


@pytest.mark.slow
@pytest.mark.parametrize("final_context", ["full", "short"])
def test_setting_switches_the_finals_window(final_context: str, registry: ModelRegistry) -> None:
    settings = Settings(asr={"final_context": final_context, "workers": 2, "cpu_threads": 1,  # type: ignore[arg-type]
                             "device": "cpu", "partial_interval_s": 0.5})
    rec, spy = _spied(settings, registry)
    assert rec.final_context == final_context and rec.context_pad_s == 5.0
    engine = AsrEngine(rec, settings.asr)
    try:
        audio = read_wav(FIXTURES / "audio" / "ja_lost_card.wav")
        events = transcribe_stream(engine, audio, 20, language="ja", realtime=True, timeout=60)
    finally:
        engine.close()
    finals = [frames for frames, beam in spy.decodes if beam == 5]
    partials = [frames for frames, beam in spy.decodes if beam == 1]
    assert finals and partials, spy.decodes
    short_frames = int(np.ceil((len(audio) / SR + 5.0) * 100))  # the whole utterance + 5 s bounds every short one
    if final_context == "full":  # asr.final_window_s (15 s) or more: never cut to the utterance like the short ones
        assert set(finals) == {window_frames(len(audio), settings.asr.final_window_s)}
        assert min(finals) >= settings.asr.final_window_s * 100 > short_frames
    else:
        assert max(finals) <= short_frames < MAX_FRAMES
    assert max(partials) <= short_frames  # partials stay short whatever finals use
    assert any(e.final and "カード" in e.text for e in events)


@pytest.mark.slow
def test_full_window_final_reads_a_telephone_row(registry: ModelRegistry) -> None:
    """A dev-set row in a kokoro voice through the G.711 channel, through the engine as configured by default."""
    settings = Settings(asr={"device": "cpu", "workers": 2, "cpu_threads": 1,  # type: ignore[arg-type]
                             "partial_interval_s": 0})
    engine = AsrEngine(WhisperRecognizer.from_settings(settings.asr, registry), settings.asr)
    try:
        events = transcribe_stream(engine, read_wav(ASR_SET / "audio" / "ja-dev-55.wav"), 100, language="ja",
                                   timeout=60)
    finally:
        engine.close()
    text = "".join(e.text for e in events if e.final)
    assert "契約" in text and "名義に変更" in text, text
    assert score(["電気の契約を、夫の名義に変更したいんですけど。"], [text], "ja") <= 0.1, text


def test_bench_asr_client_latency_takes_the_covering_final_from_the_frame_send() -> None:
    from asr.base import Utterance
    from eval.bench_asr import Turn, client_latencies

    def final(start: float, end: float) -> Utterance:
        return Utterance("c", "customer", f"u{start}", "x", True, start, end, "ja")

    step = 320  # 20 ms frames
    turns = [Turn(1 * SR, 3 * SR, False), Turn(5 * SR, 20 * SR, True), Turn(25 * SR, 27 * SR, False)]
    sent = {(3 * SR - 1) // step: 100.0, (20 * SR - 1) // step: 200.0, (27 * SR - 1) // step: 300.0}
    # the long turn came out as two finals (split at 15 s): the later-ending one covers it, whenever it arrived
    finals = [(101.2, final(0.8, 3.15)), (199.0, final(4.8, 15.0)), (201.5, final(15.0, 20.15))]
    lat = client_latencies(turns, sent, finals, step)
    assert lat[0] == pytest.approx(1.2) and lat[1] == pytest.approx(1.5)
    assert lat[2] is None  # no final for the last turn: counted as not finalized


def test_bench_asr_material_has_long_agent_turns() -> None:
    from eval.bench_asr import DEFAULT_CALLS, LONG_TURN_EVERY, build_call, long_turns

    longs = long_turns(DEFAULT_CALLS)
    assert longs and min(len(x) for x in longs) > 8 * SR
    clips = [np.full(2 * SR, 0.3, np.float32)]
    audio, turns = build_call(clips, longs, 60.0, np.random.default_rng(0))
    assert [t.long for t in turns][LONG_TURN_EVERY - 1] is True
    assert sum(t.long for t in turns) == len(turns) // LONG_TURN_EVERY
    for t in turns:  # every turn's speech end is where its audio stops being loud
        assert np.abs(audio[t.speech_end - 1]) > 0.01 and np.all(np.abs(audio[t.speech_end : t.speech_end + 1000]) < 0.01)


def test_bench_live_client_latency_per_turn() -> None:
    from eval.bench_live import client_final_latencies
    from eval.callset import Timeline, TurnSpan

    tl = Timeline([TurnSpan(0, "agent", 0.6, 3.0, 0.7, 2.9), TurnSpan(1, "customer", 3.6, 6.0, 3.7, 5.9)], 6.6)
    sent = {(round(2.9 * SR) - 1) // 320: 10.0, (round(5.9 * SR) - 1) // 320: 13.0}
    events = [
        (11.0, {"type": "transcript", "final": True, "leg": "agent", "utterance_id": "agent-0", "start": 0.5, "end": 3.0}),
        (14.1, {"type": "transcript", "final": True, "leg": "customer", "utterance_id": "customer-0", "start": 3.5,
                "end": 6.0}),
        (14.9, {"type": "transcript", "final": True, "leg": "customer", "utterance_id": "customer-0", "start": 3.5,
                "end": 6.0}),  # a masking correction repeats it: the first arrival counts
    ]
    assert client_final_latencies(events, sent, tl) == [pytest.approx(1.0), pytest.approx(1.1)]


def test_scheduler_exclusive_finals_keep_a_legs_finals_one_at_a_time() -> None:
    from asr.scheduler import DecodeScheduler, Job

    sched = DecodeScheduler(8, workers=2, exclusive_finals=True)
    for key, n in (("a", 1), ("a", 2), ("b", 1)):
        sched.submit(Job(key=key, final=True, payload=(key, n), language="ja"))
    first = sched.take(0, max_finals=4)
    assert first is not None and [j.payload for j in first] == [("a", 1), ("b", 1)]  # one final per leg
    assert sched.take(1, timeout=0.05) == []  # a's second final waits for its first
    sched.finish(first)
    again = sched.take(1, timeout=0.05)
    assert again is not None and [j.payload for j in again] == [("a", 2)]
    sched.close()
    assert sched.take(0, timeout=0.05) is None


def test_compose_puts_the_previous_utterance_before_the_final() -> None:
    from asr.base import FinalContext
    from asr.context import GAP_S, compose

    now = np.full(SR, 0.5, np.float32)
    assert compose(now, None, 10.0)[1] is None
    prev = FinalContext(np.full(12 * SR, 0.25, np.float32), " 前の発話。")
    audio, prefix = compose(now, prev, 10.0)
    assert prefix == "前の発話。"
    assert len(audio) == 10 * SR + int(GAP_S * SR) + SR  # the tail of the previous utterance, capped
    assert np.all(audio[-SR:] == 0.5) and np.all(audio[: 10 * SR] == 0.25)
    assert compose(np.zeros(29 * SR, np.float32), prev, 10.0)[1] is None  # no room left in the window
    assert compose(now, FinalContext(prev.audio, "  "), 10.0)[1] is None  # nothing finalized to continue from


class _Contextual(_Routed):
    """Fake ``ContextRecognizer``: records the context each final was decoded after."""

    context_audio_s = 10.0

    def __init__(self, texts: tuple[str, ...] = ("発話{n}、ポイントの交換について伺います",)) -> None:
        super().__init__()
        self.contexts: list[str | None] = []
        self.n = 0
        self.texts = texts  # the n-th final's text (the last one repeats), "{n}" its number

    def transcribe_finals(self, audios: Any, *, language: str | None, beam_size: int = 5, prompt: str | None = None,
                          contexts: Any) -> list[Transcription]:
        out = []
        for c in contexts:
            self.contexts.append(None if c is None else c.text)
            self.n += 1
            text = self.texts[min(self.n, len(self.texts)) - 1].format(n=self.n)
            out.append(Transcription(text=text, language="ja", avg_logprob=-0.1))
        return out


def _three_finals(rec: _Contextual) -> list[str]:
    """The texts of the finals of three utterances fed at once (without exclusive finals the three would be
    decoded concurrently)."""
    engine = AsrEngine(rec, AsrSettings(partial_interval_s=0, workers=2))  # type: ignore[arg-type]
    clip = read_wav(FIXTURES / "audio" / "ja_points.wav")
    gap = np.zeros(SR, np.float32)
    try:
        events = transcribe_stream(engine, np.concatenate([clip, gap, clip, gap, clip]), 100, language="ja",
                                   timeout=30)
    finally:
        engine.close()
    return [e.text for e in events if e.final]


def test_engine_decodes_each_final_after_the_legs_previous_one() -> None:
    rec = _Contextual()
    finals = _three_finals(rec)
    said = [f"発話{n}、ポイントの交換について伺います" for n in (1, 2, 3)]
    assert finals == said
    assert rec.contexts == [None, said[0], said[1]]


def test_a_final_too_short_for_its_audio_is_no_context() -> None:
    """A hallucinated final (「お客様、」 over seconds of speech) forced as the prefix made the next decode transcribe
    that audio again; the next final decodes alone instead."""
    rec = _Contextual(("お客様、", "発話{n}、ポイントの交換について伺います"))
    assert _three_finals(rec)[0] == "お客様、", "the final itself is still sent"
    assert rec.contexts == [None, None, "発話2、ポイントの交換について伺います"]


@pytest.mark.slow
def test_final_in_context_decodes_only_the_new_utterance(registry: ModelRegistry,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from asr import confidence
    from asr.base import FinalContext

    monkeypatch.setattr(confidence, "_NUMERAL", re.compile("."))  # words are only aligned for finals with numbers

    settings = Settings(asr={"device": "cpu", "workers": 1, "cpu_threads": 1})  # type: ignore[arg-type]
    rec = WhisperRecognizer.from_settings(settings.asr, registry)
    assert rec.context_audio_s == 10.0
    lost, points = read_wav(FIXTURES / "audio" / "ja_lost_card.wav"), read_wav(FIXTURES / "audio" / "ja_points.wav")
    prev = FinalContext(lost, "クレジットカードをなくしてしまいました。")
    alone, after = rec.transcribe_finals([points, points], language="ja", contexts=[None, prev])
    assert "ポイント" in after.text and "カード" not in after.text  # the prefix is not repeated
    assert "".join(w.text for w in after.words) == after.text and after.words  # probabilities of the new text only
    # the same first words as the utterance decoded alone; which hesitation spelling (えーと/えっと) Whisper picks
    # differs between CPUs, so fillers are left out of the comparison
    assert normalize_ja(strip_fillers(after.text))[:4] == normalize_ja(strip_fillers(alone.text))[:4]
