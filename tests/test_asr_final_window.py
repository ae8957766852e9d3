"""The finals' encoder window (``asr.final_window_s``): at least the setting, grown to hold the audio + 3 s."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from asr.audio import SAMPLE_RATE
from asr.short_context import MAX_FRAMES, MIN_PAD_S, window_frames
from config import AsrSettings


def test_short_audio_gets_the_configured_window() -> None:
    assert window_frames(4 * SAMPLE_RATE, 15.0) == 1500
    assert window_frames(4 * SAMPLE_RATE, 30.0) == MAX_FRAMES


def test_window_grows_to_hold_context_and_final_with_padding() -> None:
    composed = int((10 + 0.6 + 4) * SAMPLE_RATE)  # previous utterance, gap, final
    assert window_frames(composed, 15.0) == int(round((10 + 0.6 + 4 + MIN_PAD_S) * 100))


def test_window_never_exceeds_whispers_30_s() -> None:
    assert window_frames(29 * SAMPLE_RATE, 15.0) == MAX_FRAMES


def test_setting_default_and_bounds() -> None:
    assert AsrSettings().final_window_s == 15.0
    for bad in (5.0, 31.0):
        with pytest.raises(ValidationError):
            AsrSettings(final_window_s=bad)


def test_context_fills_only_what_the_utterance_leaves_of_the_window() -> None:
    import numpy as np

    from asr.base import FinalContext
    from asr.context import GAP_S, compose

    prev = FinalContext(np.ones(20 * SAMPLE_RATE, np.float32), "前の発話です。")
    short = np.zeros(4 * SAMPLE_RATE, np.float32)
    audio, prefix = compose(short, prev, 10.0, 15.0)
    assert prefix == "前の発話です。"
    context_s = (len(audio) - len(short)) / SAMPLE_RATE - GAP_S
    assert context_s == pytest.approx(15.0 - MIN_PAD_S - GAP_S - 4.0, abs=0.01)  # 7.4 s, not the 10 s cap
    assert window_frames(len(audio), 15.0) == 1500, "the composed final fits the configured window"
    long_turn = np.zeros(12 * SAMPLE_RATE, np.float32)
    assert compose(long_turn, prev, 10.0, 15.0)[1] is None, "a long utterance is decoded alone"
    audio30, _ = compose(short, prev, 10.0, 30.0)
    assert (len(audio30) - len(short)) / SAMPLE_RATE - GAP_S == pytest.approx(10.0), "30 s keeps the 10 s cap"
