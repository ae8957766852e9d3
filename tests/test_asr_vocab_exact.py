"""The articles' own wording as exact-only vocabulary terms (asr/vocab.py): a misheard spelling of a word the
knowledge base writes is respelled when it reads exactly the same, never by a near reading."""

from __future__ import annotations

import pytest
from support.scripted_asr import scripted_finals

from asr.vocab import BUILTIN, MAX_TERMS, VocabCorrector, build_lexicon
from config import AsrSettings

ANSWERS = [  # a caller question and answers, as the knowledge base writes them
    "財布ごとカードを落としてしまいました",
    "紛失された場合は、すぐにさくら銀行の紛失受付へご連絡ください。",
    "今月の電気代は、ご契約のプランと燃料費調整額で決まります。",
    "アプリでご本人確認をすれば、上限を上げられます。",
    "設置当社の窓口で承ります。",
]


@pytest.fixture(scope="module")
def vocab() -> VocabCorrector:
    return VocabCorrector(["紛失"], exact=ANSWERS)


@pytest.mark.parametrize(
    ("heard", "expected", "original"),
    [
        ("サイフごとカードを落としちゃって。", "財布ごとカードを落としちゃって。", "サイフごとカード"),  # words, one reading
        ("何か今月の電気台が高いんですけど。", "何か今月の電気代が高いんですけど。", "電気台"),  # two real words, one reading
        ("アプリで5本人確認をすれば", "アプリでご本人確認をすれば", "5本人確認"),  # a digit glued to words
        ("桜銀行の石川でございます。", "さくら銀行の石川でございます。", "桜銀行"),
    ],
)
def test_a_word_the_articles_write_is_respelled_when_it_reads_the_same(vocab: VocabCorrector, heard: str,
                                                                        expected: str, original: str) -> None:
    text, corrections = vocab.correct(heard)
    assert text == expected
    assert [c.original for c in corrections] == [original]


@pytest.mark.parametrize(
    "heard",
    [
        "設置業者さんに頼めばいいんですか。",  # 業者 sounds near 当社 (an answer's word): a near reading is not enough
        "電気を使いすぎたみたいです。",  # real words, no term reads like them
        "ご不便をおかけしております。ご契約者様のお名前をお願いします。",  # already right: no ご doubled
    ],
)
def test_answers_words_never_replace_by_a_near_reading(vocab: VocabCorrector, heard: str) -> None:
    assert vocab.correct(heard) == (heard, ())


def test_without_the_answers_nothing_changes() -> None:
    plain = VocabCorrector(["紛失"])
    assert plain.correct("サイフごとカードを落としちゃって。") == ("サイフごとカードを落としちゃって。", ())


def test_built_in_words_survive_a_large_knowledge_base() -> None:
    """Cue-carrying built-in words come first, so a glossary of thousands of titles never pushes them out."""
    heads = ("新規", "継続", "臨時", "特別", "一般", "法人", "個人", "家族", "学生", "海外")
    tails = ("契約", "申込", "登録", "解除", "照会", "変更届", "証明書", "明細書", "利用券", "会員証")
    tags = [f"{a}{b}{c}" for a in heads for b in ("窓口", "店舗", "電話", "郵送", "書面", "口頭", "事前", "当日", "年間",
                                                   "月間") for c in tails]  # 1,000 distinct terms
    lexicon = build_lexicon(tags)
    surfaces = {t.surface for t in lexicon.terms}
    assert len(lexicon.terms) <= MAX_TERMS
    assert set(BUILTIN) - {"届く"} <= surfaces
    assert next(t for t in lexicon.terms if t.surface == "口座").cues == BUILTIN["口座"]


def test_the_engine_takes_the_vocabulary_with_the_glossary() -> None:
    finals = scripted_finals(AsrSettings(workers=1, partial_interval_s=0), "サイフごとカードを落としました",
                             terms=["紛失"], vocabulary=ANSWERS)
    assert [e.text for e in finals] == ["財布ごとカードを落としました"]
