"""The split call set (issue 12): dev/test filtering, KB ids, committed audio, and a test split apart from dev."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from eval.callset import (
    SPLIT_AUDIO_CALLS,
    SPLIT_KB,
    SPLIT_TEXT_CALLS,
    in_split,
    read_calls,
    read_split,
    split_kb,
)
from summarize.numbers import canonical_text

DATA = Path(__file__).resolve().parent.parent / "eval" / "data"
NEW_TEXT = DATA / "calls_v2.jsonl"
NEW_AUDIO = DATA / "calls_audio" / "calls_v2.jsonl"
HELD_OUT = {"ojt-c", "kokoro-jf_nezumi", "espeak-us-f5"}  # make_asr_set's test-only voices


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def kb_ids() -> set[str]:
    return {r["id"] for path in SPLIT_KB for r in rows(path)}


def test_default_files_are_the_committed_set() -> None:
    assert SPLIT_TEXT_CALLS == (DATA / "calls.jsonl", NEW_TEXT)
    assert SPLIT_AUDIO_CALLS == (DATA / "calls_audio" / "calls_audio.jsonl", NEW_AUDIO)


def test_older_calls_are_all_dev_and_the_new_set_is_large_enough() -> None:
    old = rows(DATA / "calls.jsonl")
    assert len(old) == 16 and all(r["split"] == "dev" for r in old)
    assert all(r["split"] == "dev" for r in rows(DATA / "calls_audio" / "calls_audio.jsonl"))
    new = rows(NEW_TEXT)
    assert len(new) >= 16 and {r["split"] for r in new} == {"dev", "test"}
    assert sum(r["split"] == "test" for r in new) >= 8
    assert sum(r["language"] == "en" for r in new) >= 3
    assert sum(r["language"] == "ja" for r in new) > len(new) / 2
    assert sum(len(r["expected"]) >= 2 for r in new) >= len(new) // 2  # calls with a second request
    assert not {r["id"] for r in new} & {r["id"] for r in old}


def test_split_filtering() -> None:
    new = rows(NEW_TEXT)
    test_ids = [r["id"] for r in new if r["split"] == "test"]
    dev_ids = [r["id"] for r in rows(DATA / "calls.jsonl")] + [r["id"] for r in new if r["split"] == "dev"]
    assert [c.id for c in read_split(SPLIT_TEXT_CALLS, "test")] == test_ids
    assert [c.id for c in read_split(SPLIT_TEXT_CALLS, "dev")] == dev_ids
    assert len(read_split(SPLIT_TEXT_CALLS, None)) == len(test_ids) + len(dev_ids)
    assert [c.id for c in read_split(SPLIT_TEXT_CALLS, "dev", limit=18)] == dev_ids[:18]  # limit spans files
    assert read_calls(DATA / "calls.jsonl", split="test") == []
    assert len(read_calls(DATA / "calls.jsonl")) == 16  # no split: every row, as before


def test_rows_without_split_are_dev(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    turns = [{"speaker": "customer", "text": "カードをなくしました。"}]
    path.write_text("\n".join(json.dumps({"id": i, "turns": turns, **extra}, ensure_ascii=False)
                              for i, extra in (("a", {}), ("b", {"split": "test"}))), encoding="utf-8")
    assert [c.id for c in read_calls(path, split="dev")] == ["a"]
    assert [c.id for c in read_calls(path, split="test")] == ["b"]
    assert in_split({}, None) and in_split({"split": "test"}, None) and not in_split({}, "test")


def test_expected_ids_exist_in_the_kb_and_facts_were_said() -> None:
    ids = kb_ids()
    for row in rows(NEW_TEXT):
        wanted = {i for v in row["expected"].values() for i in v}
        assert wanted and wanted <= ids, row["id"]
        said = canonical_text("\n".join(t["text"] for t in row["turns"]), row["language"])
        assert len(row["facts"]) >= 4
        assert [f for f in row["facts"] if canonical_text(f, row["language"]) not in said] == [], row["id"]
        # parse_call also refuses an expected turn that is not the customer's
        assert read_split([NEW_TEXT], row["split"])


def test_split_kb_joins_both_files() -> None:
    path = split_kb()
    try:
        assert path.suffix == ".jsonl"
        assert {r["id"] for r in rows(path)} == kb_ids()
        assert len(rows(path)) == sum(len(rows(p)) for p in SPLIT_KB)
    finally:
        path.unlink(missing_ok=True)


def test_test_split_shares_no_call_text_with_dev() -> None:
    def texts(split: str) -> set[str]:
        return {" ".join(t.text.split()) for c in read_split(SPLIT_TEXT_CALLS, split) for t in c.turns}

    assert not texts("test") & texts("dev")


def test_audio_manifest_matches_the_text_and_every_file_is_16k_mono_pcm16() -> None:
    source = {r["id"]: r for r in rows(NEW_TEXT)}
    manifest = rows(NEW_AUDIO)
    assert [r["id"] for r in manifest] == list(source)
    total = 0
    for row in manifest:
        original = source[row["id"]]
        assert [(t["speaker"], t["text"]) for t in row["turns"]] == [
            (t["speaker"], t["text"]) for t in original["turns"]]  # rerun make_call_audio.py --varied
        for key in ("split", "expected", "facts", "language"):
            assert row[key] == original[key], (row["id"], key)
    for call in read_split([NEW_AUDIO], None):
        for turn in call.turns:
            assert turn.audio is not None and turn.audio.is_file(), turn.audio
            with wave.open(str(turn.audio), "rb") as w:
                assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
                assert w.getnframes() > 16000 * 0.3
            total += turn.audio.stat().st_size
    assert total < 23_000_000  # issue 12: "about 20 MB" (22.2 MB: 695 s of speech)


def test_audio_varies_voices_and_channels() -> None:
    manifest = rows(NEW_AUDIO)
    for row in manifest:
        assert row["voices"]["agent"] != row["voices"]["customer"], row["id"]
    pairs = {(r["voices"]["agent"].split("-")[0], r["voices"]["customer"].split("-")[0]) for r in manifest}
    assert len(pairs) >= 4  # synthesizer pairs vary across calls (ojt/kokoro/espeak)
    assert sum(r["channel"] == "phone" for r in manifest) >= len(manifest) // 3
    assert 1 <= sum("noise" in r for r in manifest) <= 2
    assert all(15.0 <= r["snr_db"] <= 20.0 for r in manifest if "noise" in r)
    test_voices = {v for r in manifest if r["split"] == "test" for v in r["voices"].values()}
    dev_voices = {v for r in manifest if r["split"] == "dev" for v in r["voices"].values()}
    assert test_voices & HELD_OUT and not dev_voices & HELD_OUT


def test_summary_filters_by_split(capsys: pytest.CaptureFixture[str]) -> None:
    from eval.summary import main

    assert main(["--split", "test"]) == 0
    out = capsys.readouterr().out.splitlines()
    test_ids = [r["id"] for r in rows(NEW_TEXT) if r["split"] == "test"]
    assert json.loads(out[-1])["n"] == len(test_ids)
    assert [line.split()[0] for line in out[:-1]] == test_ids


def test_calls_needs_a_call_file_or_a_split() -> None:
    from eval.calls import main

    with pytest.raises(SystemExit) as exc:
        main(["--kb", str(DATA / "kb.jsonl")])
    assert exc.value.code == 2


def test_the_text_only_dev_calls_point_at_articles_of_the_two_kb_files(capsys: pytest.CaptureFixture[str]) -> None:
    """``calls_v3.jsonl`` (second requests said many ways; `eval gating --calls`) is dev only, and its expected
    articles live in ``kb.jsonl`` and ``kb_extra.jsonl``, which ``eval summary`` reads together with two ``--kb``."""
    from eval.summary import main

    calls = rows(DATA / "calls_v3.jsonl")
    ids = {r["id"] for path in ("kb.jsonl", "kb_extra.jsonl") for r in rows(DATA / path)}
    assert {c["split"] for c in calls} == {"dev"}
    assert {a for c in calls for arts in c["expected"].values() for a in arts} <= ids
    assert main(["--calls", str(DATA / "calls_v3.jsonl"), "--kb", str(DATA / "kb.jsonl"),
                 "--kb", str(DATA / "kb_extra.jsonl")]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["n"] == len(calls)
