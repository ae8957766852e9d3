"""Query building, tokenizers, fusion."""

from __future__ import annotations

from common.text_ja import char_bigrams, strip_fillers
from retrieval.fusion import weighted_rrf
from retrieval.lexical import LexicalIndex
from retrieval.passages import chunk_text
from retrieval.query import build_query
from retrieval.text import WordTokenizer


def test_fillers_stripped_but_words_kept() -> None:
    assert strip_fillers("えーっとあのーカードをなくしちゃって") == "カードをなくしちゃって"
    assert strip_fillers("あの なんか うんてんめんきょの住所変更") == "うんてんめんきょの住所変更"
    assert strip_fillers("um so uh I lost my card") == "I lost my card"
    assert strip_fillers("Okay so, like, my bill is too high") == "my bill is too high"


def test_context_and_no_content() -> None:
    assert build_query("はい").text == ""
    assert build_query("Thank you").text == ""
    built = build_query("それで止めてほしいんです", "あのカードを落としちゃったみたいで")
    assert built.used_context and built.text.startswith("カードを落とし") and built.text.endswith("止めてほしいんです")
    assert len(build_query("あ" * 500).text) <= 160


def test_sudachi_words_drop_particles_and_normalize() -> None:
    words = WordTokenizer("C")("えっとカードの引き落とし日をＰａｙＬｉｔｅで変えたい")
    assert "カード" in words and "paylite" in words
    assert not {"の", "を", "で", "えっと"} & set(words)


def test_bigrams_match_kana_spellings() -> None:
    index = LexicalIndex.build("bigram", char_bigrams, {"a": "請求額の確認 せいきゅうがく", "b": "年会費 ねんかいひ"})
    assert index.search("せいきゅうがくを知りたい", 2)[0][0] == "a"
    assert index.search("まったく無関係", 2) == []


def test_weighted_rrf() -> None:
    fused = weighted_rrf({"dense": ["a", "b"], "bm25": ["b", "c"]}, {"dense": 1.0, "bm25": 0.5}, rrf_k=60)
    assert max(fused, key=fused.get) == "b"
    assert fused["a"] == 1.0 / 61
    assert weighted_rrf({"bm25": ["x"]}, {"bm25": 0.0}, 60) == {}


def test_chunking_keeps_sentences() -> None:
    text = "一文目です。" * 30
    chunks = chunk_text(text, 50)
    assert all(len(c) <= 50 for c in chunks) and "".join(chunks) == text
