"""``python -m eval asr --split``: rows of one split, figures per split and channel, before/after vocab correction.

The recognizer is scripted (no model), so this runs in a second and checks the bookkeeping exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support.wav import FIXTURES

import eval.asr as asr_eval
from asr.base import Correction, Transcription, Utterance
from eval.__main__ import main

ROWS = [
    {"id": "ja-dev-clean", "audio": str(FIXTURES / "audio" / "ja_lost_card.wav"), "text": "先月の明細です",
     "language": "ja", "split": "dev", "voice": "ojt-a", "synth": "openjtalk", "channel": "clean"},
    {"id": "ja-dev-phone", "audio": str(FIXTURES / "audio" / "ja_points.wav"), "text": "先月の明細です",
     "language": "ja", "split": "dev", "voice": "kokoro-jf_alpha", "synth": "kokoro", "channel": "phone"},
    {"id": "ja-test-noisy", "audio": str(FIXTURES / "audio" / "ja_points.wav"), "text": "ご請求の明細です",
     "language": "ja", "split": "test", "voice": "ojt-c", "synth": "openjtalk", "channel": "noisy"},
    {"id": "en-test", "audio": str(FIXTURES / "audio" / "en_refund.wav"), "text": "I would like a refund",
     "language": "en", "split": "test", "voice": "espeak-us", "synth": "espeak", "channel": "clean"},
]


class Scripted:
    """Japanese: 先月 misheard as 1000月 (vocab correction fixes it); English: one word wrong of five."""

    name = "scripted"

    def transcribe(self, audio: np.ndarray, *, language: str | None, beam_size: int = 5,
                   prompt: str | None = None) -> Transcription:
        text = "1000月の明細です" if language == "ja" else "I would like a refund too"
        return Transcription(text=text, language=language or "ja", avg_logprob=-0.2)


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(asr_eval, "recognizer_from_settings", lambda asr, registry, **kw: Scripted())
    path = tmp_path / "manifest.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    return path


def _summary(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["asr", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_read_manifest_filters_by_split_and_defaults_channel(manifest: Path, tmp_path: Path) -> None:
    assert [i.id for i in asr_eval.read_manifest(manifest, "dev")] == ["ja-dev-clean", "ja-dev-phone"]
    assert [i.id for i in asr_eval.read_manifest(manifest, "test")] == ["ja-test-noisy", "en-test"]
    assert len(asr_eval.read_manifest(manifest)) == 4
    old = tmp_path / "old.jsonl"  # rows without the new fields: phone from the tel- prefix, no split
    old.write_text('{"id": "tel-x", "audio": "a.wav", "text": "t"}\n{"id": "y", "audio": "b.wav", "text": "t"}\n')
    items = asr_eval.read_manifest(old)
    assert [(i.channel, i.split, i.language) for i in items] == [("phone", "", "ja"), ("clean", "", "ja")]
    assert asr_eval.read_manifest(old, "dev") == []


def test_dev_split_reports_per_split_and_channel_before_and_after_vocab(
        manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = _summary(capsys, "--manifest", str(manifest), "--split", "dev")
    assert s["n"] == 2 and s["split"] == "dev" and s["wer"] is None
    assert s["cer"] == 0.0 and s["cer_no_vocab"] == pytest.approx(4 / 7, abs=1e-4)  # 1000月 for 先月: 4 edits of 7
    assert s["by_language"]["ja"] == {"cer": 0.0, "n": 2}
    assert s["by_language"]["ja-telephone"] == {"cer": 0.0, "n": 1}
    assert set(s["by_split"]) == {"dev"}
    assert s["by_channel"]["phone"]["ja"] == {"cer": 0.0, "cer_no_vocab": pytest.approx(4 / 7, abs=1e-4), "n": 1}
    assert set(s["by_channel"]) == {"clean", "phone"}
    assert s["vocab"]["corrections"] == 2 and s["vocab"]["wrong"] == []


def test_test_split_keeps_english_and_flags_a_wrong_replacement(
        manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = _summary(capsys, "--manifest", str(manifest), "--split", "test")
    assert s["n"] == 2 and set(s["by_split"]) == {"test"}
    assert s["by_split"]["test"]["en"] == {"wer": 0.2, "wer_no_vocab": 0.2, "n": 1}
    assert set(s["by_channel"]) == {"clean", "noisy"}
    # the reference says ご請求, not 先月: the replacement is reported as wrong
    assert s["vocab"]["wrong"] == [{"id": "ja-test-noisy", "split": "test", "original": "1000月",
                                    "replacement": "先月", "right": False}]
    all_rows = _summary(capsys, "--manifest", str(manifest))
    assert all_rows["n"] == 4 and set(all_rows["by_split"]) == {"dev", "test"}


def test_unknown_or_empty_split_is_refused(manifest: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["asr", "--manifest", str(manifest), "--split", "train"])
    only_dev = tmp_path / "dev.jsonl"
    only_dev.write_text(json.dumps(ROWS[0], ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["asr", "--manifest", str(only_dev), "--split", "test"])


def test_undo_corrections_restores_the_decoded_text() -> None:
    event = Utterance("c", "customer", "customer-0", "先月のご請求", True, 0.0, 1.0, "ja",
                            corrections=(Correction("1000月", "先月", 0, 2), Correction("5成球", "ご請求", 3, 6)))
    assert asr_eval.undo_corrections(event) == "1000月の5成球"
