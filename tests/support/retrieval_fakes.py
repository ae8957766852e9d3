"""Tiny deterministic embedders for tests about mechanics (index, paraphrase margins), not about ranking quality."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from common.text_ja import char_bigrams
from retrieval.base import Hit


class HashEmbedder:
    name = "hash-test"
    dim = 128

    def __init__(self) -> None:
        self.calls = 0
        self.passages_embedded = 0

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for gram in char_bigrams(text) or [text]:
            v[int.from_bytes(hashlib.md5(gram.encode()).digest()[:4], "little") % self.dim] += 1.0
        return v / max(float(np.linalg.norm(v)), 1e-9)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passages_embedded += len(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


class KbRetrieval:
    """The writes of ``RetrievalService`` go to a real store; searching answers nothing (no models here)."""

    def __init__(self, kb: Any) -> None:
        self.kb = kb

    def upsert(self, article: Any) -> None:
        self.kb.upsert(article)

    def delete(self, article_id: str) -> None:
        self.kb.delete(article_id)

    def refresh(self) -> bool:
        return False

    def search(self, query: str, *, k: int = 3, language: str | None = None) -> list[Hit]:
        return []

    def close(self) -> None:
        self.kb.close()


class KeywordEmbedder:
    """An ``Embedder`` whose vectors say which of a few marker words a text holds."""

    name = "keyword-fake"
    dim = 3
    markers = ("夜道", "手続き")

    def _vec(self, text: str) -> np.ndarray:
        v = np.array([float(m in text) for m in self.markers] + [0.2], dtype=np.float32)
        return v / np.linalg.norm(v)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, 3), np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_queries(texts)
