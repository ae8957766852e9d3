"""RetrievalService: the live service's one entry point to the knowledge base's search index.

Writers (edits, imports, rebuilds) are serialized and produce a new ``Snapshot``; the reference is
swapped under a lock, and every query works on the snapshot it picked up first. A watcher thread
notices changes made by other processes (``assist kb import`` while the server runs) through the
store's revision counter.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

from config import RetrievalSettings
from knowledge.article import Article
from knowledge.store import KnowledgeStore
from models import ModelRegistry
from retrieval.base import Confidence, Embedder, Hit, Suggestion
from retrieval.calibration import RERANK_MODELS
from retrieval.embedders import default_min_score
from retrieval.fusion import weighted_rrf
from retrieval.passages import QUESTION_CHUNK_BASE, article_passages, snippet
from retrieval.pool import embedder_from_settings
from retrieval.query import build_query
from retrieval.rerank import Candidate, RerankModel, compute_features
from retrieval.snapshot import Snapshot, apply_changes, build_snapshot, load_snapshot, save_dense

log = logging.getLogger(__name__)

# Articles in another language than the call still count (cross-lingual matches), but rank lower.
# Lexical signals cannot match across languages, so such an article is scored on its dense rank alone,
# scaled up to the full weight, instead of being punished for votes it could never get.
CROSS_LINGUAL_FACTOR = 0.9
LEXICAL_POOL = 3
_PRODUCT_TERM = re.compile(r"\b[A-Za-z][A-Za-z0-9+\-]*[A-Z0-9][A-Za-z0-9+\-]*\b")
_GLOSSARY_LIMIT = 400


class RetrievalService:
    """Implements ``Retriever``; thread-safe. Call ``load()`` (or let the first query do it)."""

    def __init__(self, settings: RetrievalSettings, embedder: Embedder | None, store: KnowledgeStore, *,
                 index_dir: Path | None = None, watch_interval_s: float = 0.0) -> None:
        self.settings = settings
        self.embedder = embedder if settings.dense_weight > 0 else None
        self.min_score = (settings.min_score if settings.min_score is not None
                          else default_min_score(settings.embedder, self.embedder is not None))
        self.store = store
        self.index_dir = index_dir
        self.watch_interval_s = watch_interval_s
        self._snapshot: Snapshot | None = None
        self._swap_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        self._glossary: tuple[int, list[str]] | None = None
        self._rerank_override: RerankModel | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: RetrievalSettings, registry: ModelRegistry, store: KnowledgeStore, *,
                      index_dir: Path | None, allow_downloads: bool = False) -> RetrievalService:
        """The live service's instance: it watches the store for new KB revisions."""
        embedder = (embedder_from_settings(settings, registry, allow_downloads=allow_downloads)
                    if settings.dense_weight > 0 else None)
        return cls(settings, embedder, store, index_dir=index_dir, watch_interval_s=2.0)

    # ---- lifecycle ---------------------------------------------------------------------------------

    def load(self, *, progress: bool = False) -> None:
        """Load the model and the index (reusing a persisted one for this KB revision); idempotent."""
        with self._write_lock:
            if self._snapshot is not None:
                return
            # One query never needs a team of OpenMP threads; spinning ones steal the ASR's cores.
            faiss.omp_set_num_threads(self.settings.threads)
            if self.embedder is not None and hasattr(self.embedder, "load"):
                self.embedder.load()
            revision, articles = self._read_store()
            snapshot = None
            if self.index_dir is not None and self.embedder is not None:
                snapshot = load_snapshot(self.index_dir, articles, revision, self.settings, self.embedder.name)
            if snapshot is None:
                snapshot = build_snapshot(articles, revision, self.settings, self.embedder, progress=progress)
                self._persist(snapshot)
            self._swap(snapshot, notify=False)
            log.info("retrieval index ready: %d articles, revision %d", len(articles), revision)
        if self.watch_interval_s > 0 and self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="kb-watcher", daemon=True)
            self._watcher.start()

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)

    @property
    def ready(self) -> bool:
        return self._snapshot is not None

    @property
    def revision(self) -> int:
        return self._current().revision

    # ---- queries -----------------------------------------------------------------------------------

    def search(self, query: str, *, k: int = 3, language: str | None = None) -> list[Hit]:
        if not query.strip():
            return []
        return self._rank(self._current(), query, k, language)

    def suggest(self, latest: str, previous: str | None = None, *, language: str | None = None,
                k: int | None = None) -> Suggestion:
        started = time.perf_counter()
        built = build_query(latest, previous)
        if not built.text:
            return Suggestion("", [], (time.perf_counter() - started) * 1000, True)
        hits = self.search(built.text, k=k or self.settings.top_k, language=language)
        abstained = not hits or self._abstains(hits[0])
        return Suggestion(built.text, hits, (time.perf_counter() - started) * 1000, abstained)

    def get_article(self, article_id: str) -> Article | None:
        snapshot = self._snapshot
        if snapshot is not None and article_id in snapshot.articles:
            return snapshot.articles[article_id]
        return self.store.get(article_id)

    def glossary(self) -> list[str]:
        """Tags first (curated terms), then product names/codes, then categories and titles."""
        snapshot = self._current()
        if self._glossary is not None and self._glossary[0] == snapshot.revision:
            return list(self._glossary[1])
        articles = list(snapshot.articles.values())
        products = Counter(m.group(0) for a in articles
                           for m in _PRODUCT_TERM.finditer(" ".join([a.title, *a.questions, a.answer])))
        ordered = [t for a in articles for t in a.tags]
        ordered += [t for t, _ in products.most_common()]
        ordered += [a.category for a in articles if a.category] + [a.title for a in articles]
        terms = list(dict.fromkeys(t.strip() for t in ordered if t and t.strip()))[:_GLOSSARY_LIMIT]
        self._glossary = (snapshot.revision, terms)
        return list(terms)

    def vocabulary(self) -> list[str]:
        """The articles' questions and answers: the spellings the ASR's vocabulary correction may respell a misheard
        word into (exact readings only, ``asr/vocab.py``)."""
        articles = self._current().articles.values()
        return [*(q for a in articles for q in a.questions), *(a.answer for a in articles)]

    def add_listener(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)

    # ---- writes ------------------------------------------------------------------------------------

    def upsert(self, article: Article) -> None:
        """Store the article and index it incrementally (unchanged content is a no-op)."""
        with self._write_lock:
            result = self.store.upsert(article)
            if result.action != "unchanged":
                self._apply([result.article], set())

    def delete(self, article_id: str) -> None:
        with self._write_lock:
            if self.store.delete(article_id):
                self._apply([], {article_id})

    def refresh(self) -> bool:
        """Catch up with changes in the store (imports, other processes); True if the index changed."""
        with self._write_lock:
            snapshot = self._current()
            revision, articles = self._read_store()
            if revision == snapshot.revision:
                return False
            current = {a.id: a for a in articles}
            upserts = [a for a in articles if a.id not in snapshot.articles
                       or snapshot.articles[a.id].content_key() != a.content_key()]
            deletes = set(snapshot.articles) - set(current)
            if len(upserts) + len(deletes) > max(32, len(current) // 4):
                new = build_snapshot(articles, revision, self.settings, self.embedder, reuse=snapshot)
            else:
                new = apply_changes(snapshot, upserts, deletes, revision, self.settings, self.embedder)
            self._persist(new)
            self._swap(new)
            log.info("retrieval index refreshed to revision %d (%d upserts, %d deletes)",
                     revision, len(upserts), len(deletes))
            return True

    def reindex(self, *, progress: bool = False) -> None:
        """Rebuild everything from the store (re-embedding every passage) into a new file, then swap."""
        with self._write_lock:
            if self.embedder is not None and hasattr(self.embedder, "load"):
                self.embedder.load()
            revision, articles = self._read_store()
            new = build_snapshot(articles, revision, self.settings, self.embedder, progress=progress)
            self._persist(new)
            self._swap(new)

    # ---- internals ---------------------------------------------------------------------------------

    def _read_store(self) -> tuple[int, list[Article]]:
        # Revision first: a change landing in between only makes the next refresh redo it.
        revision = self.store.revision
        return revision, self.store.all()

    def _current(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            self.load()
            snapshot = self._snapshot
        assert snapshot is not None
        return snapshot

    def _apply(self, upserts: list[Article], deletes: set[str]) -> None:
        snapshot = self._current()
        revision = self.store.revision
        if revision != snapshot.revision + 1:  # someone else changed the store too: catch up fully
            self.refresh()
            return
        new = apply_changes(snapshot, upserts, deletes, revision, self.settings, self.embedder)
        self._persist(new)
        self._swap(new)

    def _persist(self, snapshot: Snapshot) -> None:
        if self.index_dir is not None:
            save_dense(snapshot, self.index_dir)

    def _swap(self, snapshot: Snapshot, *, notify: bool = True) -> None:
        with self._swap_lock:
            self._snapshot = snapshot
        if notify:
            for fn in list(self._listeners):
                try:
                    fn()
                except Exception:  # a broken listener must not undo an index change
                    log.exception("index listener failed")

    def _watch(self) -> None:
        while not self._stop.wait(self.watch_interval_s):
            try:
                self.refresh()
            except Exception:
                log.exception("knowledge-base refresh failed; retrying in %.0f s", self.watch_interval_s)

    def _cross_lingual(self, fused: dict[str, float], snapshot: Snapshot, rankings: dict[str, list[str]],
                       weights: dict[str, float], language: str) -> None:
        """An other-language article gets the full weight of every signal that ran at its dense rank, as if each
        had ranked it there (lexical votes that did come still count if they score higher)."""
        total = sum(w for name, w in weights.items() if w > 0 and name in rankings)
        dense_rank = ({aid: r for r, aid in enumerate(rankings.get("dense", ()), start=1)}
                      if weights.get("dense", 0.0) > 0 else {})
        for aid in fused:
            if snapshot.articles[aid].language != language:
                imputed = total / (self.settings.rrf_k + dense_rank[aid]) if aid in dense_rank else 0.0
                fused[aid] = max(fused[aid], imputed) * CROSS_LINGUAL_FACTOR

    def candidates(self, query: str, *, language: str | None = None) -> list[Candidate]:
        """The first stage's top ``rerank_depth`` candidates with the second stage's features, best fused first
        (what ``python -m eval retrieval --fit-rerank`` fits the model on)."""
        if not query.strip():
            return []
        return self._candidates(self._current(), query, language, self.settings.rerank_depth, features=True)

    def _first_stage(self, snapshot: Snapshot, query: str, language: str | None,
                     depth: int) -> tuple[dict[str, float], dict[str, dict[str, float]], np.ndarray | None,
                                          dict[str, list[str]]]:
        settings = self.settings
        rankings: dict[str, list[str]] = {}
        signals: dict[str, dict[str, float]] = {}
        vector = None
        if snapshot.dense is not None and self.embedder is not None:
            vector = self.embedder.embed_queries([query])[0]
            pids, scores = snapshot.dense.search(vector, depth * 2)
            order: list[str] = []
            for pid, score in zip(pids.tolist(), scores.tolist(), strict=True):
                aid = snapshot.passages.get(pid)
                if aid is None or aid in signals:  # best passage per article only
                    continue
                signals[aid] = {"dense": round(score, 4)}
                order.append(aid)
            rankings["dense"] = order[:depth]
        for name, index in snapshot.lexical.items():
            results = index.search(query, depth)
            rankings[name] = [aid for aid, _ in results]
            for aid, score in results:
                signals.setdefault(aid, {})[name] = round(score, 4)
        weights = {"dense": settings.dense_weight, "bm25": settings.bm25_weight, "bigram": settings.bigram_weight,
                   "reading": settings.reading_weight}
        fused = weighted_rrf(rankings, weights, settings.rrf_k)
        if language:
            self._cross_lingual(fused, snapshot, rankings, weights, language)
        return fused, signals, vector, rankings

    def _candidates(self, snapshot: Snapshot, query: str, language: str | None, n: int, *,
                    features: bool) -> list[Candidate]:
        fused, signals, vector, rankings = self._first_stage(snapshot, query, language, max(50, n * 10))
        ordered = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        rank_of = {aid: rank for rank, (aid, _) in enumerate(ordered, start=1)}
        pool = [aid for aid, _ in ordered[:n]]
        if features:  # a lexical signal's best few join even when the dense rank buried them (けんしんひょう)
            pool += [aid for name, ranked in rankings.items() if name != "dense"
                     for aid in ranked[:LEXICAL_POOL] if aid not in pool[:n]]
        out = [Candidate(aid, fused[aid], rank_of[aid], signals.get(aid, {})) for aid in dict.fromkeys(pool)]
        if features:
            dense = None
            if vector is not None and snapshot.dense is not None:
                dense = {c.article_id: self._passage_scores(snapshot, vector, c.article_id) for c in out}
            compute_features(query, language, out, snapshot.articles, dense, snapshot.lexical.get("reading"))
        return out

    def _passage_scores(self, snapshot: Snapshot, vector: np.ndarray, article_id: str) -> dict[str, float]:
        """Best passage cosine (``dense``) and best caller-question cosine (``question``) of one article, the
        question passages saying how close the query is to the way callers ask for it; for a fused embedder
        also each model's own (``dense@e5-small`` …), so the second stage can weigh the models."""
        assert snapshot.dense is not None
        passages = article_passages(snapshot.articles[article_id], self.settings.chunk_chars)
        stored = snapshot.dense.stored([p.pid for p in passages])
        is_question = np.array([p.chunk >= QUESTION_CHUNK_BASE for p in passages])
        out: dict[str, float] = {}
        for suffix, q, m, scale in _model_slices(self.embedder, vector, stored):
            scores = (m @ q) / scale
            best = float(scores.max()) if len(scores) else 0.0
            out["dense" + suffix] = best
            out["question" + suffix] = float(scores[is_question].max()) if is_question.any() else best
        return out

    @property
    def rerank_model(self) -> RerankModel | None:
        """The second stage's model for this embedder, if it was calibrated and the stage is on."""
        if not self.settings.rerank or self.embedder is None:
            return None
        return self._rerank_override if self._rerank_override is not None else RERANK_MODELS.get(self.embedder.name)

    def use_rerank_model(self, model: RerankModel | None) -> None:
        """Evaluate with a model other than the calibrated one (``eval retrieval --fit-rerank``)."""
        self._rerank_override = model

    def _rank(self, snapshot: Snapshot, query: str, k: int, language: str | None) -> list[Hit]:
        model = self.rerank_model
        depth = max(k, self.settings.rerank_depth) if model is not None else k
        candidates = self._candidates(snapshot, query, language, depth, features=model is not None)
        scored = [(model.probability(c.features) if model is not None else c.fused, c) for c in candidates]
        if model is not None:
            scored.sort(key=lambda item: (-item[0], item[1].rank))
        hits = []
        for rank, (score, c) in enumerate(scored[:k], start=1):
            article = snapshot.articles[c.article_id]
            band = model.band(score) if model is not None else self._uncalibrated_band(c, rank)
            signals = {**c.signals, "fused": round(c.fused, 6)} if model is not None else c.signals
            hits.append(Hit(article_id=c.article_id, title=article.title, snippet=snippet(article),
                            score=round(score, 6), language=article.language, category=article.category,
                            signals=signals, confidence=band))
        return hits

    def _uncalibrated_band(self, candidate: Candidate, rank: int) -> Confidence:
        """Without a calibrated model nothing is "high": the top hit is "medium" when it clears the abstain
        threshold, everything else "low"."""
        dense = candidate.signals.get("dense")
        return "medium" if rank == 1 and dense is not None and self.min_score > 0 and dense >= self.min_score else "low"

    @property
    def abstain_threshold(self) -> float:
        """The cut ``suggest`` abstains below: the second stage's probability cut, or ``min_score`` on the dense
        cosine (when set explicitly, or without a calibrated model)."""
        model = self.rerank_model
        if model is None or self.settings.min_score is not None:
            return self.min_score
        return model.abstain if self.settings.abstain is None else self.settings.abstain

    def _abstains(self, top: Hit) -> bool:
        calibrated = self.rerank_model is not None and self.settings.min_score is None
        return (top.score if calibrated else confidence(top)) < self.abstain_threshold


def _model_slices(embedder: Embedder | None, query: np.ndarray,
                  stored: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    """(feature suffix, query part, passage parts, scale²): the whole vector, plus each model of a fused one."""
    out = [("", query, stored, 1.0)]
    parts, scales = getattr(embedder, "parts", None), getattr(embedder, "scales", None)
    if parts and scales:  # a ConcatEmbedder, or a cache in front of one
        start = 0
        for part, scale in zip(parts, scales, strict=True):
            end = start + part.dim
            out.append((f"@{part.name}", query[start:end], stored[:, start:end], scale * scale))
            start = end
    return out


def confidence(hit: Hit) -> float:
    """The abstain signal: the top hit's dense cosine when dense ran (fused ranks carry no absolute
    meaning), else its fused score."""
    return hit.signals.get("dense", hit.score)
