"""Reading-aware vocabulary correction (asr/vocab.py): misheard domain words fixed, real words and numbers kept."""

from __future__ import annotations

import threading

import pytest
from support.scripted_asr import scripted_finals

from asr.base import Correction
from asr.vocab import VocabCorrector, distance, key_terms, morae, number_readings
from config import AsrSettings


@pytest.fixture(scope="module")
def vocab() -> VocabCorrector:
    return VocabCorrector(["請求額", "引き落とし", "暗証番号", "口座振替", "カードを紛失・盗難にあった場合"])


@pytest.mark.parametrize(
    ("heard", "expected", "original", "replacement"),
    [
        ("えーと、5成球の金額が高いんですけど。", "えーと、ご請求の金額が高いんですけど。", "5成球", "ご請求"),
        ("1000月の明細が届いてないです。", "先月の明細が届いてないです。", "1000月", "先月"),
        ("オニモ2がまだ届かないんです。", "お荷物がまだ届かないんです。", "オニモ2", "お荷物"),
        ("安勝番号を忘れちゃって。", "暗証番号を忘れちゃって。", "安勝番号", "暗証番号"),
        ("講座から引き落としされてないみたいで。", "口座から引き落としされてないみたいで。", "講座", "口座"),
        ("あの、50所を変更したいんですけど。", "あの、ご住所を変更したいんですけど。", "50所", "ご住所"),
        ("水道料金の講座振替の手続き", "水道料金の口座振替の手続き", "講座振替", "口座振替"),
        ("水道料金の講座振り会の手続き", "水道料金の口座振替の手続き", "講座振り会", "口座振替"),  # near, long term
        ("あの、重書が変わったので。", "あの、住所が変わったので。", "重書", "住所"),  # read as a name (しげふみ)
        ("名義を編考したいんです。", "名義を変更したいんです。", "編考", "変更"),  # a noun before する
        ("契約を改訳したいんです。", "契約を解約したいんです。", "改訳", "解約"),  # a real word, with a cue
    ],
)
def test_misheard_terms_are_corrected_and_the_original_kept(vocab: VocabCorrector, heard: str, expected: str,
                                                            original: str, replacement: str) -> None:
    text, corrections = vocab.correct(heard)
    assert text == expected
    assert len(corrections) == 1
    c = corrections[0]
    assert (c.original, c.replacement) == (original, replacement)
    assert text[c.start:c.end] == replacement  # offsets point into the corrected text
    assert text[:c.start] + c.original + text[c.end:] == heard  # so the original is recoverable


@pytest.mark.parametrize(
    "heard",
    [
        "英会話の講座を解約したいんですけど。",  # 講座 is a real word and nothing here speaks of a bank account
        "100円のご請求がありました。",
        "3万2千円です。",
        "3万に1000円払ったんです。",  # a misheard amount stays a number: never turned into a word
        "電話番号は090-1234-5678です。",
        "12月5日に届きました。",
        "2つ注文して、5ギガ追加しました。",
        "口座の名義を変えたいです。",  # already right
        "前月の明細と比べて、田中さんに聞きました。",  # real words and a real name, nothing sounds like a term
        "Can you check my bill?",
    ],
)
def test_real_words_amounts_dates_and_english_are_left_alone(vocab: VocabCorrector, heard: str) -> None:
    assert vocab.correct(heard) == (heard, ())


def test_several_corrections_in_one_final_keep_their_offsets(vocab: VocabCorrector) -> None:
    heard = "1000月の5成球が、講座から引き落とされてなくて。"
    text, corrections = vocab.correct(heard)
    assert text == "先月のご請求が、口座から引き落とされてなくて。"
    assert [(c.original, c.replacement) for c in corrections] == [("1000月", "先月"), ("5成球", "ご請求"),
                                                                   ("講座", "口座")]
    for c in reversed(corrections):
        text = text[:c.start] + c.original + text[c.end:]
    assert text == heard


def test_knowledge_base_terms_extend_the_lexicon() -> None:
    heard = "クレカのギガプラムに変えたいんです。"
    assert VocabCorrector().correct(heard)[0] == heard
    assert VocabCorrector(["ギガプラン"]).correct(heard)[0] == "クレカのギガプランに変えたいんです。"
    assert key_terms(["カードを紛失・盗難にあった場合", "Lost card", "料金プラン"]) == ["カード", "紛失", "盗難",
                                                                                    "料金プラン"]


def test_off_switch_and_a_tight_threshold_leave_the_text() -> None:
    heard = "5成球の金額"
    assert VocabCorrector(enabled=False).correct(heard) == (heard, ())
    assert VocabCorrector(max_distance=0.0).correct("オニモ2が届かない")[0] == "オニモ2が届かない"


def test_reading_helpers() -> None:
    assert number_readings("1000")[0] == "せん"
    assert number_readings("50")[0] == "ごじゅう"
    assert number_readings("090") == ("ぜろきゅうぜろ",)
    assert morae("コーザ") == morae("こうざ") == morae("コウザ")
    assert distance(morae("せんがつ"), morae("せんげつ")) == pytest.approx(0.15)
    assert distance(morae("こうざ"), morae("こうざ")) == 0.0
    assert distance(morae("ふんしつ"), morae("ぶんせき")) > 0.3  # 分析 is not a near miss of 紛失


def test_engine_corrects_finals_counts_them_and_can_be_switched_off() -> None:
    counts: list[int] = []  # the service wires this hook to assist_asr_vocab_corrections_total
    finals = scripted_finals(AsrSettings(workers=1, partial_interval_s=0), "えーと、1000月の5成球が高くて", counts=counts)
    assert [e.text for e in finals] == ["えーと、先月のご請求が高くて"]
    assert finals[0].corrections == (Correction("1000月", "先月", 4, 6), Correction("5成球", "ご請求", 7, 10))
    assert counts == [2]

    off_counts: list[int] = []
    off = scripted_finals(AsrSettings(workers=1, partial_interval_s=0, vocab_correction=False), "えーと、1000月の5成球が高くて",
                  counts=off_counts)
    assert [(e.text, e.corrections) for e in off] == [("えーと、1000月の5成球が高くて", ())]
    assert off_counts == []


def test_engine_takes_the_glossary_terms_and_survives_concurrent_updates() -> None:
    settings = AsrSettings(workers=1, partial_interval_s=0)
    finals = scripted_finals(settings, "ギガプラムに変えたい", terms=["ギガプラン"])
    assert [e.text for e in finals] == ["ギガプランに変えたい"]

    corrector = VocabCorrector()
    errors: list[Exception] = []

    def churn() -> None:
        try:
            for i in range(20):
                corrector.set_terms([f"プラン{i}", "ギガプラン"])
                corrector.correct("ギガプラムに変えたい")
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=churn) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert corrector.correct("ギガプラムに変えたい")[0] == "ギガプランに変えたい"
