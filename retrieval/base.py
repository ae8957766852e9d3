"""The retrieval stage's contracts: ``Embedder`` (text → vectors), ``Retriever`` (query → typed ``Hit``s) and
``Suggester``, the retriever as the live service drives it (a customer turn → a ``Suggestion``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from knowledge.article import Article

Confidence = Literal["high", "medium", "low"]


@dataclass(frozen=True, slots=True)
class Hit:
    """One suggested article. ``score`` is the second stage's probability that the article answers the query
    when the embedder has a calibrated model, else the fused score (higher is better either way);
    ``confidence`` is what an agent reads (calibrated bands, never the raw score); ``signals`` holds each
    signal's own score, for debugging and calibration."""

    article_id: str
    title: str
    snippet: str
    score: float
    language: str = "ja"
    category: str | None = None
    signals: dict[str, float] = field(default_factory=dict)
    confidence: Confidence = "low"


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalized float32 vectors; queries and passages may be encoded differently
    (e5's ``query: `` / ``passage: `` prompts). An implementation may load its weights lazily; one with a
    ``load()`` method gets it called at start-up, off the event loop."""

    @property
    def name(self) -> str:
        """Names the persisted index's vectors: another name means they are recomputed."""
        ...

    @property
    def dim(self) -> int: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, shape ``(len(texts), dim)``; no texts give ``(0, dim)``."""
        ...

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


@runtime_checkable
class Suggester(Retriever, Protocol):
    """A ``Retriever`` for live calls: a search query built from the latest customer turn and the one before,
    the decision to abstain, and the full article a reply draft is written from."""

    def suggest(self, latest: str, previous: str | None = None, *, language: str | None = None,
                k: int | None = None) -> Suggestion:
        """Cards for ``latest`` (``previous``: the request turn before it, for context; ``k``: the configured
        ``retrieval.top_k`` when ``None``)."""
        ...

    def get_article(self, article_id: str) -> Article | None:
        """The article as it is now; ``None`` once it was deleted."""
        ...
