"""The committed dev call set: in step with calls.jsonl, valid audio, small, and synthesizable when missing."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from eval.callset import read_calls, timeline, turn_audio

DATA = Path(__file__).resolve().parent.parent / "eval" / "data"
CALLS_AUDIO = DATA / "calls_audio" / "calls_audio.jsonl"


def rows(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if r}


def test_dev_calls_match_calls_jsonl_and_cover_both_languages() -> None:
    source, dev = rows(DATA / "calls.jsonl"), rows(CALLS_AUDIO)
    assert len(dev) >= 8 and {r["language"] for r in dev.values()} == {"ja", "en"}
    kb_ids = set(rows(DATA / "kb.jsonl"))
    for call_id, row in dev.items():
        original = source[call_id]  # rerun scripts/make_call_audio.py when calls.jsonl changes
        assert [(t["speaker"], t["text"]) for t in row["turns"]] == [
            (t["speaker"], t["text"]) for t in original["turns"]]
        assert row["expected"] == original["expected"] and row["facts"] == original["facts"]
        assert {i for ids in row["expected"].values() for i in ids} <= kb_ids


def test_dev_audio_is_16k_mono_pcm16_and_small() -> None:
    total = 0
    for call in read_calls(CALLS_AUDIO):
        for turn in call.turns:
            assert turn.audio is not None and turn.audio.is_file()
            with wave.open(str(turn.audio), "rb") as w:
                assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
            total += turn.audio.stat().st_size
    assert total < 16_000_000


def test_turn_audio_reads_files_and_synthesizes_missing_turns(tmp_path: Path) -> None:
    pytest.importorskip("pyopenjtalk")
    path = tmp_path / "calls.jsonl"
    path.write_text(json.dumps({"id": "x", "language": "ja", "turns": [
        {"speaker": "agent", "text": "お電話ありがとうございます。"},
        {"speaker": "customer", "text": "カードをなくしました。"}]}, ensure_ascii=False), encoding="utf-8")
    [call] = read_calls(path)
    audio = turn_audio(call)
    assert all(a.dtype == np.float32 and 0.5 < len(a) / 16000 < 4 for a in audio)
    spans = timeline(call, audio).spans
    assert spans[0].speech_start < spans[0].speech_end < spans[1].speech_start < spans[1].speech_end
