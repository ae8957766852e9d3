"""``assist replay``: a WAV file streamed into a running server, events printed as JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from asr.audio import write_wav
from assist.cli import main


def _wav(path: Path, channels: int, seconds: float, rate: int = 8000) -> Path:
    write_wav(path, np.zeros((int(seconds * rate), channels), np.float32), rate=rate)
    return path


def test_replay_wav_prints_events(live, tmp_path: Path, capsys) -> None:
    srv = live({"customer": ["カードをなくしました"], "agent": ["承知しました"]}, {"カードをなくしました": ["lost-card"]})
    wav = _wav(tmp_path / "call.wav", 2, 0.7)
    assert main(["replay", str(wav), "--url", srv.url, "--stereo", "--fast", "--call-id", "cli-replay"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[0]["type"] == "call_started" and events[0]["call_id"] == "cli-replay"
    assert {e["leg"] for e in events if e["type"] == "transcript" and e["final"]} == {"customer", "agent"}
    assert events[-1]["type"] == "summary"
    assert main(["replay", str(_wav(tmp_path / "mono.wav", 1, 0.1)), "--url", srv.url, "--stereo"]) == 2


def test_replay_calls_jsonl(live, tmp_path: Path, capsys) -> None:
    srv = live({"customer": ["カードをなくしました"]}, {"カードをなくしました": ["lost-card"]})
    (tmp_path / "audio").mkdir()
    _wav(tmp_path / "audio" / "t0.wav", 1, 0.7, rate=16000)
    calls = tmp_path / "calls.jsonl"
    calls.write_text(json.dumps({"id": "c-9", "language": "ja", "turns": [
        {"speaker": "customer", "text": "カードをなくしました", "audio": "audio/t0.wav"}]}) + "\n", encoding="utf-8")
    assert main(["replay", "--calls", str(calls), "--call-id", "c-9", "--url", srv.url, "--fast"]) == 0
    types = [json.loads(line)["type"] for line in capsys.readouterr().out.splitlines()]
    assert "suggestions" in types and types[-1] == "summary"
    assert main(["replay", "--calls", str(calls), "--call-id", "nope", "--url", srv.url]) == 1
