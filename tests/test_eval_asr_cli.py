"""``python -m eval asr`` end to end: the real whisper-base on two committed fixtures (about 6 s of speech)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.wav import FIXTURES

from eval.__main__ import main

pytestmark = pytest.mark.slow

ITEMS = [
    {"id": "ja-lost", "audio": str(FIXTURES / "audio" / "ja_lost_card.wav"),
     "text": "クレジットカードをなくしてしまいました。", "language": "ja"},
    {"id": "en-refund", "audio": str(FIXTURES / "audio" / "en_refund.wav"),
     "text": "I would like to return the shoes I ordered and get a refund.", "language": "en"},
]


def test_eval_asr_prints_json_summary_last(tmp_path: Path, whisper_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSIST_HOME", str(whisper_path.parents[1]))  # the prepared model cache
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in ITEMS), encoding="utf-8")

    assert main(["asr", "--manifest", str(manifest)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("ja-lost") and "ref: クレジットカード" in line for line in lines)  # human report first
    summary = json.loads(lines[-1])
    assert {"cer", "wer", "by_language", "rtf", "n"} <= set(summary)
    assert summary["n"] == 2 and summary["glossary"] is False
    assert 0.0 <= summary["cer"] <= 0.2, summary  # whisper-base reads these clean fixtures almost perfectly
    assert 0.0 <= summary["wer"] <= 0.25, summary
    assert summary["by_language"]["ja"] == {"cer": summary["cer"], "n": 1}
    assert summary["by_language"]["en"] == {"wer": summary["wer"], "n": 1}
    assert 0.0 < summary["rtf"] < 5.0 and summary["audio_s"] == pytest.approx(6.3, abs=0.3)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
