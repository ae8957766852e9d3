"""BM25 over token lists (bm25s). Token ids are kept per article (compact int32 arrays, not lists of
strings) so an edit re-indexes from the cache instead of re-tokenizing the whole knowledge base."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import bm25s
import numpy as np

log = logging.getLogger(__name__)

Tokenize = Callable[[str], list[str]]
_EMPTY = "\u0000"  # stands in for an article without tokens, so ids stay aligned


class LexicalIndex:
    """Immutable once built; ``with_changes`` returns a new one (readers keep their snapshot)."""

    def __init__(self, name: str, tokenize: Tokenize, docs: Mapping[str, np.ndarray], vocab: dict[str, int]) -> None:
        self.name = name
        self.tokenize = tokenize
        self.docs = dict(docs)
        self.vocab = vocab
        self.ids = list(self.docs)
        # document frequencies for the second stage's idf weights, counted here on the writer's thread
        self._df: dict[int, int] = {}
        for toks in self.docs.values():
            for t in np.unique(toks).tolist():
                self._df[t] = self._df.get(t, 0) + 1
        self._bm25: bm25s.BM25 | None = None
        if self.ids:
            self._bm25 = bm25s.BM25()
            self._bm25.index(([self.docs[i].tolist() for i in self.ids], dict(vocab)), show_progress=False)

    @staticmethod
    def _encode(tokens: list[str], vocab: dict[str, int]) -> np.ndarray:
        return np.fromiter((vocab.setdefault(t, len(vocab)) for t in tokens or [_EMPTY]), dtype=np.int32)

    @classmethod
    def build(cls, name: str, tokenize: Tokenize, texts: Mapping[str, str]) -> LexicalIndex:
        vocab: dict[str, int] = {}
        return cls(name, tokenize, {aid: cls._encode(tokenize(t), vocab) for aid, t in texts.items()}, vocab)

    def with_changes(self, upserts: Mapping[str, str], deletes: set[str]) -> LexicalIndex:
        vocab = dict(self.vocab)
        docs = {aid: toks for aid, toks in self.docs.items() if aid not in deletes}
        docs.update({aid: self._encode(self.tokenize(text), vocab) for aid, text in upserts.items()})
        return LexicalIndex(self.name, self.tokenize, docs, vocab)

    def document_frequency(self, token: str) -> int:
        """How many articles hold ``token`` (0 if none)."""
        tid = self.vocab.get(token)
        return 0 if tid is None else self._df.get(tid, 0)

    def search(self, query: str, n: int) -> list[tuple[str, float]]:
        """Best ``n`` articles with a positive score, best first."""
        if self._bm25 is None:
            return []
        tokens = [self.vocab[t] for t in self.tokenize(query) if t in self.vocab]
        if not tokens:
            return []
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]
