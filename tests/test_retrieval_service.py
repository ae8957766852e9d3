"""RetrievalService mechanics: incremental edits, refresh, persistence, snapshot isolation, HNSW path."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from support.retrieval_fakes import HashEmbedder

from config import RetrievalSettings
from knowledge.article import parse_article
from knowledge.io import apply_import, read_path
from knowledge.store import KnowledgeStore
from retrieval.base import Retriever
from retrieval.service import RetrievalService

KB = Path(__file__).parents[1] / "eval" / "data" / "kb.jsonl"


def make(tmp_path: Path, **settings: object) -> tuple[RetrievalService, KnowledgeStore, HashEmbedder]:
    store = KnowledgeStore(tmp_path / "kb.db")
    apply_import(store, read_path(KB))
    embedder = HashEmbedder()
    rs = RetrievalSettings(**{"bm25_weight": 0.3, "bigram_weight": 0.3, "min_score": 0.0, **settings})
    service = RetrievalService(rs, embedder, store, index_dir=tmp_path / "index")
    service.load()
    return service, store, embedder


def test_search_and_protocol(tmp_path: Path) -> None:
    service, _, _ = make(tmp_path)
    assert isinstance(service, Retriever)
    hits = service.search("ETCカードの追加発行を申し込みたい", k=3)
    assert hits[0].article_id == "etc-card"
    assert len(hits) == 3 and hits[0].score >= hits[1].score >= hits[2].score
    assert {"dense", "bm25", "bigram"} <= set(hits[0].signals)
    assert service.search("   ") == []


def test_upsert_is_incremental_and_visible(tmp_path: Path) -> None:
    service, store, embedder = make(tmp_path)
    before = embedder.passages_embedded
    changed = []
    service.add_listener(lambda: changed.append(service.revision))
    article = parse_article({"id": "pet-insurance", "title": "ペット保険ワンニャンプラン", "question": "犬の保険",
                             "answer": "ワンニャンプランは月額1,200円です。", "tags": ["ワンニャンプラン"]})
    service.upsert(article)
    assert embedder.passages_embedded - before == 2  # one answer passage + one question passage
    assert service.search("ワンニャンプランの保険料", k=1)[0].article_id == "pet-insurance"
    assert store.get("pet-insurance").revision == 1
    assert changed == [store.revision]
    assert "ワンニャンプラン" in service.glossary()
    service.upsert(article)  # unchanged: no new revision, no listener call
    assert changed == [store.revision]
    service.delete("pet-insurance")
    assert all(h.article_id != "pet-insurance" for h in service.search("ワンニャンプランの保険料", k=5))
    assert service.get_article("pet-insurance") is None


def test_refresh_picks_up_other_writers(tmp_path: Path) -> None:
    service, _, _ = make(tmp_path)
    other = KnowledgeStore(tmp_path / "kb.db")  # e.g. `assist kb import` in another process
    other.upsert(parse_article({"id": "drone", "title": "ドローン保険", "answer": "ドローン保険の補償内容です。"}))
    other.delete("etc-card")
    assert service.refresh() is True
    assert service.search("ドローン保険", k=1)[0].article_id == "drone"
    assert service.get_article("etc-card") is None
    assert service.refresh() is False


def test_persisted_index_is_reused(tmp_path: Path) -> None:
    service, store, _ = make(tmp_path)
    files = sorted(p.name for p in (tmp_path / "index").glob("*.faiss"))
    assert files == [f"hash-test-r{store.revision}.faiss"]
    embedder = HashEmbedder()
    again = RetrievalService(service.settings, embedder, store, index_dir=tmp_path / "index")
    again.load()
    assert embedder.passages_embedded == 0
    assert again.search("ETCカード", k=1)[0].article_id == "etc-card"
    service.upsert(parse_article({"id": "n1", "title": "新しい記事", "answer": "本文です。"}))
    assert sorted(p.name for p in (tmp_path / "index").glob("*.faiss")) == [f"hash-test-r{store.revision}.faiss"]


@pytest.mark.slow
def test_queries_survive_concurrent_rebuilds(tmp_path: Path) -> None:
    service, _, _ = make(tmp_path)
    stop = threading.Event()
    errors: list[BaseException] = []
    results: list[int] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                results.append(len(service.search("カードをなくしました", k=3)))
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(3):
        service.reindex()
        service.upsert(parse_article({"id": f"tmp-{i}", "title": f"一時記事{i}", "answer": "テストです。"}))
        service.delete(f"tmp-{i}")
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert results and all(n == 3 for n in results)


def test_hnsw_above_threshold_supports_edits(tmp_path: Path) -> None:
    service, _, _ = make(tmp_path, hnsw_above=10)
    snapshot = service._current()
    assert not snapshot.dense.is_flat
    service.upsert(parse_article({"id": "hnsw-1", "title": "ハイブリッド検索", "answer": "HNSWの記事です。"}))
    service.delete("lost-card")
    ids = set(service._current().passages.values())
    assert "hnsw-1" in ids and "lost-card" not in ids
    assert service._current().dense.size == len(service._current().passages)


@pytest.mark.parametrize(("latest", "previous", "expect_abstain"), [
    ("はい", None, True),
    ("ありがとうございます", "カードをなくしました", True),
    ("えーっと あの ETCカードを追加で作りたいんですけど", None, False),
])
def test_suggest_abstains_on_empty_queries(tmp_path: Path, latest: str, previous: str | None,
                                           expect_abstain: bool) -> None:
    service, _, _ = make(tmp_path)
    suggestion = service.suggest(latest, previous, language="ja")
    assert suggestion.abstained is expect_abstain
    if not expect_abstain:
        assert "えーっと" not in suggestion.query and suggestion.hits[0].article_id == "etc-card"
        assert suggestion.latency_ms > 0


def test_min_score_threshold_abstains(tmp_path: Path) -> None:
    service, _, _ = make(tmp_path, min_score=0.99)
    suggestion = service.suggest("ETCカードを追加で作りたい")
    assert suggestion.abstained and suggestion.hits


def test_language_preference(tmp_path: Path) -> None:
    """Identical twins in two languages: the call's language decides which comes first."""
    store = KnowledgeStore(tmp_path / "twins.db")
    body = {"title": "Lost card / カード紛失", "answer": "Call 0120-110-365. 0120-110-365へお電話ください。"}
    store.upsert_many([parse_article({"id": "twin-a", "language": "en", **body}),
                       parse_article({"id": "twin-b", "language": "ja", **body})])
    service = RetrievalService(RetrievalSettings(), HashEmbedder(), store)
    assert [h.article_id for h in service.search("lost card", k=2, language="ja")] == ["twin-b", "twin-a"]
    assert [h.article_id for h in service.search("lost card", k=2, language="en")] == ["twin-a", "twin-b"]


class ConceptEmbedder:
    """Embeds by shared concepts across languages, like a multilingual model, so a test can pit a
    cross-lingual dense match against same-language articles."""

    name = "concept-test"
    dim = 3
    CONCEPTS = (("gas", "ガス"), ("smell", "におい", "odor"), ("house", "家"))

    def _vec(self, text: str) -> np.ndarray:
        v = np.array([sum(text.lower().count(w) for w in words) for words in self.CONCEPTS], np.float32) + 0.01
        return v / float(np.linalg.norm(v))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])

    embed_passages = embed_queries


def test_cross_lingual_match_is_not_punished_for_missing_lexical_votes(tmp_path: Path) -> None:
    store = KnowledgeStore(tmp_path / "kb.db")
    for row in ({"id": "gas-leak", "title": "ガスのにおいがする場合", "question": "ガスのにおい", "answer": "窓を開けてください。",
                 "language": "ja"},
                {"id": "odor-en", "title": "Odor in the house", "question": "odor", "answer": "Open the windows.",
                 "language": "en"}):
        store.upsert(parse_article(row))
    rs = RetrievalSettings(bm25_weight=0.0, bigram_weight=0.3, min_score=0.0)
    service = RetrievalService(rs, ConceptEmbedder(), store, index_dir=tmp_path / "index")
    service.load()
    # dense: gas-leak (gas + smell) first, odor-en (smell) second; no lexical overlap with either
    hits = service.search("it smells like gas", k=2, language="en")
    assert [h.article_id for h in hits] == ["gas-leak", "odor-en"]
    total = rs.dense_weight + rs.bigram_weight + rs.reading_weight  # every signal that ran
    assert hits[0].score == pytest.approx(total / (rs.rrf_k + 1) * 0.9, abs=1e-6)
    # the call's language still wins a tie on dense rank
    hits = service.search("ガスのにおい", k=2, language="ja")
    assert hits[0].article_id == "gas-leak"


def test_abstain_threshold_follows_the_embedder_unless_set(tmp_path: Path) -> None:
    store = KnowledgeStore(tmp_path / "kb.db")

    def threshold(**settings: object) -> float:
        return RetrievalService(RetrievalSettings(**settings), HashEmbedder(), store).min_score

    assert threshold() == 0.54  # the default fusion of e5-small and use-multilingual
    assert threshold(embedder="e5-small") == 0.83
    assert threshold(embedder="embeddinggemma") == 0.27, "gemma's cosines are far lower than e5's"
    assert threshold(embedder="use-multilingual") == 0.265
    assert threshold(embedder="/models/my-own-model") == 0.0, "uncalibrated: never silence suggestions"
    assert threshold(embedder="embeddinggemma", min_score=0.5) == 0.5
    assert threshold(dense_weight=0.0) == 0.0, "fused lexical scores have no absolute scale"
