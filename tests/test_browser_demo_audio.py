"""The bundled demo call the widget streams: its audio and its turn script agree (no browser needed)."""

from __future__ import annotations

import numpy as np
from browser.fake_call import DEMO, demo_call
from support.wav import read_wav


def test_demo_audio_matches_its_script() -> None:
    meta = demo_call()
    wav = DEMO.with_name(meta["audio"])
    audio = read_wav(wav)  # asserts 16 kHz mono PCM16
    assert wav.stat().st_size < 1_500_000
    assert abs(len(audio) / 16000 - meta["duration_s"]) < 0.01 and 30 <= meta["duration_s"] <= 40

    turns = meta["turns"]
    assert 6 <= len(turns) <= 8 and {t["speaker"] for t in turns} == {"customer", "agent"}
    assert any("財布ごとカードを落として" in t["text"] for t in turns if t["speaker"] == "customer")
    for a, b in zip(turns, turns[1:], strict=False):
        assert a["end"] < b["start"], "legs never overlap, so the widget can split the mono file by time"
    speech = np.zeros(len(audio), bool)
    for t in turns:
        part = audio[int(t["start"] * 16000): int(t["end"] * 16000)]
        assert np.sqrt(np.mean(part**2)) > 0.02, t["text"]
        speech[int(t["start"] * 16000): int(t["end"] * 16000)] = True
    assert np.max(np.abs(audio[~speech])) < 1e-3, "silence between turns"
