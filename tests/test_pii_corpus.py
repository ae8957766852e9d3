"""The labelled PII corpus (≥ 100 entities, JA + EN, every spelling ASR produces) and the KB texts."""

from __future__ import annotations

import pytest

from eval.pii import CORPUS, KB, evaluate, read_jsonl
from summarize.masking import Masker
from summarize.pii import ENTITIES, find_pii, mask_pii, masker


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return read_jsonl(CORPUS)


def test_corpus_is_large_and_covers_every_kind(corpus: list[dict]) -> None:
    entities = [e for row in corpus for e in row["entities"]]
    assert len(entities) >= 100
    assert {e["kind"] for e in entities} == set(ENTITIES)
    assert {row["language"] for row in corpus} == {"ja", "en"}
    assert all(e["value"] in row["text"] for row in corpus for e in row["entities"])


def test_recall_and_false_positives(corpus: list[dict]) -> None:
    report = evaluate(corpus, read_jsonl(KB))
    assert report.recall >= 0.95, report.misses
    assert report.kb_texts >= 100 and report.kb_fp_rate <= 0.01, report.kb_fp
    assert len(report.negative_fp) <= 1, report.negative_fp


@pytest.mark.parametrize("row", [r for r in read_jsonl(CORPUS) if r["entities"]][:400:7], ids=lambda r: r["text"][:24])
def test_masked_text_keeps_no_digit_of_the_secret(row: dict) -> None:
    mask = Masker().mask_partial if row.get("partial") else mask_pii  # partials: every run of 4+ digits
    masked = mask(row["text"], row["language"])
    for ent in row["entities"]:
        assert ent["value"] not in masked
    assert masked.count("[") >= len(row["entities"])


def test_entities_are_configurable() -> None:
    text = "電話は090-1234-5678、メールはa@b.jp、生年月日は1985年4月12日です"
    assert masker(["phone"])(text, "ja") == "電話は[電話番号]、メールはa@b.jp、生年月日は1985年4月12日です"
    assert masker(["email", "dob"])(text, "ja") == "電話は090-1234-5678、メールは[メール]、生年月日は[生年月日]です"
    assert masker([])(text, "ja") == text
    assert masker()(text, "ja") == mask_pii(text, "ja")
    assert [k for _, _, k in find_pii(text, "ja", {"dob"})] == ["dob"]
    with pytest.raises(ValueError):
        masker(["ssn"])


def test_spoken_separators_line_up_with_the_original() -> None:
    text = "連絡先は〇九〇の二四六八の一三五七、誕生日は昭和48年の2月14日です"
    assert mask_pii(text, "ja") == "連絡先は[電話番号]、誕生日は[生年月日]です"
