"""common/text_ja.py: the shared SudachiPy tokenizer, character bigrams and the two filler policies."""

from __future__ import annotations

import threading

import pytest

from common import text_ja
from common.text_ja import bigrams, char_bigrams, normalize, strip_fillers, strip_sentence_fillers, tokenize


def test_bigrams_of_a_known_string() -> None:
    assert bigrams("カード") == ["カー", "ード"]
    assert bigrams("円") == [] and bigrams("") == []


def test_char_bigrams_normalize_and_drop_punctuation() -> None:
    assert normalize("ＡＢ１") == "ab1"
    assert char_bigrams("ＡＢ１ カード。") == ["ab", "b1", "1カ", "カー", "ード"]
    assert char_bigrams("円。") == ["円"]  # one character is its own token
    assert char_bigrams("、。 ") == []


@pytest.mark.parametrize(("said", "query"), [
    ("えーっとあのーカードをなくしちゃって", "カードをなくしちゃって"),
    ("あの なんか うんてんめんきょの住所変更", "うんてんめんきょの住所変更"),
    ("ちょっと請求額を確認したい", "請求額を確認したい"),
    ("えーと、、あの…カード", "カード"),
    ("um so uh I lost my card", "I lost my card"),
    ("Okay so, like, my bill is too high", "my bill is too high"),
])
def test_query_fillers_go_anywhere(said: str, query: str) -> None:
    assert strip_fillers(said) == query


@pytest.mark.parametrize(("sentence", "language", "note"), [
    ("えーと、あの、カードを、あの、落としました", "ja", "カードを、落としました"),
    ("請求額がちょっと高いです", "ja", "請求額がちょっと高いです"),  # ちょっと mid-sentence is a word
    ("すみません、住所を変更したいです", "ja", "住所を変更したいです"),
    ("well, um, my card was stolen", "en", "My card was stolen"),
    ("I think, uh, you know, it was yesterday", "en", "I think, it was yesterday"),
])
def test_note_fillers_go_at_the_start_and_after_a_pause(sentence: str, language: str, note: str) -> None:
    assert strip_sentence_fillers(sentence, language) == note


def test_tokenizer_reads_kana_and_kanji_spellings_alike() -> None:
    assert [m.reading_form() for m in tokenize("財布")] == ["サイフ"]
    assert [m.reading_form() for m in tokenize("サイフ")] == ["サイフ"]
    assert [m.surface() for m in tokenize("財布をなくしました")] == ["財布", "を", "なくし", "まし", "た"]


def test_split_modes() -> None:
    text = "国家公務員の選挙管理委員会"
    assert [m.surface() for m in tokenize(text)] == ["国家公務員", "の", "選挙管理委員会"]  # C by default
    assert [m.surface() for m in tokenize(text, "B")] == ["国家", "公務員", "の", "選挙", "管理", "委員会"]
    assert [m.surface() for m in tokenize(text, "A")] == ["国家", "公務", "員", "の", "選挙", "管理", "委員", "会"]


def test_one_dictionary_and_a_tokenizer_per_thread() -> None:
    texts = ["カードをなくしました", "請求額を確認したいです", "電気の契約を解約したい"] * 20
    expected = [[m.surface() for m in tokenize(t)] for t in texts]
    results: list[list[list[str]]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append([[m.surface() for m in tokenize(t)] for t in texts])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [expected] * 4
    assert text_ja._dictionary() is text_ja._dictionary()


def test_an_earlier_result_survives_later_calls() -> None:
    first = tokenize("財布をなくしました")
    tokenize("別の文です")
    assert [m.surface() for m in first] == ["財布", "を", "なくし", "まし", "た"]
