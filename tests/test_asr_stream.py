"""Segmenter endpointing with scripted VAD probabilities (no model), plus the real Silero VAD."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from support.wav import FIXTURES, read_wav

from asr.audio import SAMPLE_RATE as SR
from asr.stream import Segmenter
from asr.vad import WINDOW, StreamingVad
from config import AsrSettings


class ScriptedVad:
    """Stands in for StreamingVad: probability of window i comes from ``prob(i)``."""

    def __init__(self, prob: Callable[[int], float]) -> None:
        self.prob = prob
        self.windows = 0
        self._rest = 0

    def process(self, samples: np.ndarray) -> np.ndarray:
        total = self._rest + len(samples)
        n, self._rest = divmod(total, WINDOW)
        out = np.array([self.prob(self.windows + i) for i in range(n)], dtype=np.float32)
        self.windows += n
        return out


def speech_between(*spans: tuple[float, float]) -> Callable[[int], float]:
    def prob(i: int) -> float:
        t = i * WINDOW / SR
        return 0.95 if any(a <= t < b for a, b in spans) else 0.02

    return prob


def run(seg: Segmenter, seconds: float, chunk_ms: int = 20, finish: bool = True) -> list:
    cuts = []
    step = SR * chunk_ms // 1000
    for i in range(0, int(seconds * SR), step):
        cuts += seg.push(np.zeros(step, np.float32), arrival=i / SR)
    if finish:
        cuts += seg.finish(now=seconds)
    return cuts


def test_two_utterances_one_final_each_with_partials_first() -> None:
    seg = Segmenter(AsrSettings(), ScriptedVad(speech_between((1.0, 3.5), (5.0, 6.0))))
    cuts = run(seg, 8.0)
    finals = [c for c in cuts if c.final]
    assert [c.index for c in finals] == [0, 1]
    assert finals[0].start == pytest.approx(0.8, abs=0.05) and finals[0].end == pytest.approx(3.65, abs=0.05)
    assert finals[1].start == pytest.approx(4.8, abs=0.05)
    partials0 = [c for c in cuts if not c.final and c.index == 0]
    assert len(partials0) == 2  # every 1 s of open utterance
    assert cuts.index(partials0[-1]) < cuts.index(finals[0])
    assert finals[0].speech_ratio > 0.8
    # the final is cut after endpointing_ms (400) of silence, and it carries the speech-end arrival time
    assert finals[0].wall == pytest.approx(3.5, abs=0.05)


def test_blip_shorter_than_min_speech_is_ignored() -> None:
    seg = Segmenter(AsrSettings(), ScriptedVad(speech_between((1.0, 1.1))))
    assert run(seg, 3.0) == []


def test_trailing_utterance_flushed_at_finish() -> None:
    seg = Segmenter(AsrSettings(), ScriptedVad(speech_between((0.5, 10.0))))
    cuts = run(seg, 2.0)
    assert cuts[-1].final and cuts[-1].end == pytest.approx(2.0, abs=0.01)
    assert len([c for c in cuts if c.final]) == 1


def test_long_utterance_split_at_quietest_point() -> None:
    def prob(i: int) -> float:
        t = i * WINDOW / SR
        if 9.0 <= t < 9.05:
            return 0.45  # a dip, still above the silence threshold
        return 0.9 if 0.5 <= t < 15.0 else 0.01

    seg = Segmenter(AsrSettings(max_utterance_s=10.0, partial_interval_s=0), ScriptedVad(prob))
    finals = run(seg, 22.0)
    assert [c.final for c in finals] == [True, True]
    assert finals[0].end == pytest.approx(9.0, abs=0.05)
    assert finals[1].start == finals[0].end  # no audio decoded twice
    assert finals[0].end - finals[0].start <= 10.0


def test_committed_audio_never_overlaps() -> None:
    seg = Segmenter(AsrSettings(endpointing_ms=200), ScriptedVad(speech_between((0.3, 1.0), (1.3, 2.0), (2.25, 3.0))))
    finals = [c for c in run(seg, 4.0, chunk_ms=37) if c.final]
    assert len(finals) == 3
    for a, b in zip(finals, finals[1:], strict=False):
        assert b.start_sample >= a.end_sample
    for c in finals:
        assert len(c.audio) == c.end_sample - c.start_sample


def test_partials_disabled() -> None:
    seg = Segmenter(AsrSettings(partial_interval_s=0), ScriptedVad(speech_between((0.5, 4.0))))
    assert all(c.final for c in run(seg, 5.0))


def test_real_silero_finds_the_speech() -> None:
    speech = read_wav(FIXTURES / "audio" / "ja_lost_card.wav")
    audio = np.concatenate([np.zeros(SR, np.float32), speech, np.zeros(SR, np.float32)])
    seg = Segmenter(AsrSettings(partial_interval_s=0), StreamingVad())
    cuts = []
    for i in range(0, len(audio), 333):  # odd chunk size: VAD windows straddle pushes
        cuts += seg.push(audio[i : i + 333], arrival=i / SR)
    cuts += seg.finish(now=len(audio) / SR)
    assert len(cuts) == 1 and cuts[0].final
    voiced = np.flatnonzero(np.abs(audio) > 0.02)
    assert cuts[0].start <= voiced[0] / SR + 0.05 and cuts[0].end >= voiced[-1] / SR - 0.1
    assert cuts[0].end - cuts[0].start < len(speech) / SR + 0.5


def test_real_silero_ignores_silence_and_hum() -> None:
    t = np.arange(3 * SR) / SR
    hum = (0.05 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)
    for audio in (np.zeros(3 * SR, np.float32), hum):
        seg = Segmenter(AsrSettings(), StreamingVad())
        assert seg.push(audio, arrival=0.0) + seg.finish(now=3.0) == []
