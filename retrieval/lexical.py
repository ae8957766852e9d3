"""BM25 over token lists (bm25s). Token lists are kept per article so an edit re-indexes from the cache
instead of re-tokenizing the whole knowledge base."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import bm25s
import numpy as np

log = logging.getLogger(__name__)

Tokenize = Callable[[str], list[str]]


class LexicalIndex:
    """Immutable once built; ``with_changes`` returns a new one (readers keep their snapshot)."""

    def __init__(self, name: str, tokenize: Tokenize, docs: Mapping[str, list[str]]) -> None:
        self.name = name
        self.tokenize = tokenize
        self.docs = dict(docs)
        self.ids = list(self.docs)
        self._bm25: bm25s.BM25 | None = None
        corpus = [self.docs[i] or ["\u0000"] for i in self.ids]
        if corpus:
            self._bm25 = bm25s.BM25()
            self._bm25.index(corpus, show_progress=False)

    @classmethod
    def build(cls, name: str, tokenize: Tokenize, texts: Mapping[str, str]) -> LexicalIndex:
        return cls(name, tokenize, {aid: tokenize(text) for aid, text in texts.items()})

    def with_changes(self, upserts: Mapping[str, str], deletes: set[str]) -> LexicalIndex:
        docs = {aid: toks for aid, toks in self.docs.items() if aid not in deletes}
        docs.update({aid: self.tokenize(text) for aid, text in upserts.items()})
        return LexicalIndex(self.name, self.tokenize, docs)

    def search(self, query: str, n: int) -> list[tuple[str, float]]:
        """Best ``n`` articles with a positive score, best first."""
        if self._bm25 is None:
            return []
        tokens = [t for t in self.tokenize(query) if t in self._bm25.vocab_dict]
        if not tokens:
            return []
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]
