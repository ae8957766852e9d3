"""The retrieval stage's contract: ``Embedder`` (text → vectors) and ``Retriever`` (query → hits)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True, slots=True)
class Hit:
    """One suggested article. ``score`` is the fused score (higher is better); ``signals`` holds
    each signal's own score or rank, for debugging and calibration."""

    article_id: str
    title: str
    snippet: str
    score: float
    language: str = "ja"
    category: str | None = None
    signals: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalized float32 vectors; queries and passages may be encoded differently
    (e5's ``query: `` / ``passage: `` prompts)."""

    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class Retriever(Protocol):
    """Ranks knowledge-base articles for a query; thread-safe for concurrent searches."""

    def search(self, query: str, *, k: int = 3, language: str | None = None) -> list[Hit]: ...


@dataclass(frozen=True, slots=True)
class Suggestion:
    """What the live service shows for one customer utterance. ``abstained`` means nothing was confident
    enough to show (``hits`` then holds what would have been shown, for logging and calibration)."""

    query: str
    hits: list[Hit]
    latency_ms: float
    abstained: bool
