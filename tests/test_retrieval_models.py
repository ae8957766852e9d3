"""The real embedders on a slice of the dev knowledge base (integration; loads e5-small and USE)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from config import RetrievalSettings
from knowledge.io import apply_import, read_path
from knowledge.store import KnowledgeStore
from models import ModelRegistry
from retrieval.embedders import ConcatEmbedder, SentenceTransformerEmbedder, UseEmbedder, build_embedder
from retrieval.service import RetrievalService

KB = Path(__file__).parents[1] / "eval" / "data" / "kb.jsonl"
SLICE = {"lost-card", "passbook-lost", "card-reissue-damaged", "billing-amount-check", "mobile-bill-high",
         "gas-leak", "power-outage", "return-refund", "order-cancel", "lost-card-en", "plan-change-en",
         "mobile-plan-change"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def e5(registry: ModelRegistry) -> SentenceTransformerEmbedder:
    embedder = build_embedder(RetrievalSettings(embedder="e5-small"), registry)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert (embedder.query_prompt, embedder.passage_prompt) == ("query: ", "passage: ")  # from the registry
    embedder.load()
    return embedder


def test_build_embedder_picks_runtime(registry: ModelRegistry) -> None:
    assert isinstance(build_embedder(RetrievalSettings(embedder="use-multilingual"), registry), UseEmbedder)
    fused = build_embedder(RetrievalSettings(), registry)  # the default fuses e5-small and USE
    assert isinstance(fused, ConcatEmbedder) and fused.name == "e5-small+use-multilingual"
    assert [p.name for p in fused.parts] == ["e5-small", "use-multilingual"] and fused.dim == 384 + 512


def test_e5_vectors_are_normalized_and_prompted(e5: SentenceTransformerEmbedder) -> None:
    q = e5.embed_queries(["カードをなくしました"])
    p = e5.embed_passages(["カードをなくしました"])
    assert q.shape == (1, 384) and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-4)
    assert float(q[0] @ p[0]) < 0.999  # query/passage prompts differ


def test_e5_ranks_colloquial_asr_queries(e5: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    store = KnowledgeStore(tmp_path / "kb.db")
    apply_import(store, [a for a in read_path(KB) if a.id in SLICE])
    service = RetrievalService(RetrievalSettings(), e5, store)
    cases = {
        "えっと財布ごと落としちゃって": {"lost-card", "passbook-lost"},
        "今月の成球学がいくらか知りたいんですけど": {"billing-amount-check"},
        "なんか台所がガス臭いんですけど": {"gas-leak"},
        "uh someone stole my wallet with my card in it": {"lost-card-en", "lost-card"},
        "I want to switch to a cheaper phone plan": {"plan-change-en", "mobile-plan-change"},
    }
    for query, relevant in cases.items():
        suggestion = service.suggest(query, language="en" if query.isascii() else "ja")
        top3 = [h.article_id for h in suggestion.hits]
        assert relevant & set(top3), (query, top3)


def test_use_multilingual_cross_lingual(registry: ModelRegistry) -> None:
    embedder = build_embedder(RetrievalSettings(embedder="use-multilingual"), registry)
    v = embedder.embed_queries(["カードを紛失しました", "I lost my card", "今日はいい天気ですね"])
    assert v.shape == (3, 512)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])
