"""An immutable view of the search index: articles, dense vectors, lexical indexes, one KB revision.

The service swaps whole snapshots under a lock; a query holds the snapshot it started with, so an edit
or a rebuild never fails (or half-sees) a query in flight.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.text_ja import char_bigrams
from config import RetrievalSettings
from knowledge.article import Article
from retrieval.base import Embedder
from retrieval.dense import DenseIndex
from retrieval.lexical import LexicalIndex
from retrieval.passages import Passage, article_passages, lexical_text
from retrieval.reading import reading_bigrams
from retrieval.text import WordTokenizer

log = logging.getLogger(__name__)

_EMBED_BATCH = 64


@dataclass(frozen=True)
class Snapshot:
    revision: int
    model: str
    articles: Mapping[str, Article]
    passages: Mapping[int, str]  # passage id -> article id
    dense: DenseIndex | None
    lexical: Mapping[str, LexicalIndex] = field(default_factory=dict)


def lexical_tokenizers(settings: RetrievalSettings) -> dict[str, Callable[[str], list[str]]]:
    """Only the signals with a weight are built."""
    out: dict[str, Callable[[str], list[str]]] = {}
    if settings.bm25_weight > 0:
        out["bm25"] = WordTokenizer(settings.sudachi_mode)
    if settings.bigram_weight > 0:
        out["bigram"] = char_bigrams
    if settings.reading_weight > 0:
        out["reading"] = reading_bigrams
    return out


def embed_passages(embedder: Embedder, passages: list[Passage], *, progress: bool = False) -> np.ndarray:
    chunks = []
    batches = range(0, len(passages), _EMBED_BATCH)
    for start in tqdm(batches, desc="embedding", unit="batch", disable=not progress, leave=False):
        chunks.append(embedder.embed_passages([p.text for p in passages[start : start + _EMBED_BATCH]]))
    return np.concatenate(chunks) if chunks else np.zeros((0, embedder.dim), dtype=np.float32)


def build_snapshot(articles: Iterable[Article], revision: int, settings: RetrievalSettings,
                   embedder: Embedder | None, *, reuse: Snapshot | None = None, progress: bool = False,
                   tokenizers: Mapping[str, Callable[[str], list[str]]] | None = None) -> Snapshot:
    """Everything from scratch, except vectors of unchanged passages found in ``reuse``."""
    by_id = {a.id: a for a in articles}
    passages = [p for a in by_id.values() for p in article_passages(a, settings.chunk_chars)]
    dense = None
    if embedder is not None and settings.dense_weight > 0:
        known = _reusable_vectors(reuse, by_id)
        todo = [p for p in passages if p.pid not in known]
        fresh = embed_passages(embedder, todo, progress=progress)
        vectors_by_pid = dict(known)
        vectors_by_pid.update(zip((p.pid for p in todo), fresh, strict=True))
        pids = np.array([p.pid for p in passages], dtype=np.int64)
        vectors = (np.stack([vectors_by_pid[p.pid] for p in passages]) if passages
                   else np.zeros((0, embedder.dim), dtype=np.float32))
        dense = DenseIndex.build(vectors, pids, embedder.dim, settings.hnsw_above)
    tokenizers = lexical_tokenizers(settings) if tokenizers is None else tokenizers
    texts = {aid: lexical_text(a) for aid, a in by_id.items()}
    lexical = {name: LexicalIndex.build(name, tok, texts) for name, tok in tokenizers.items()}
    return Snapshot(revision, embedder.name if embedder else "none", by_id,
                    {p.pid: p.article_id for p in passages}, dense, lexical)


def _reusable_vectors(reuse: Snapshot | None, articles: Mapping[str, Article]) -> dict[int, np.ndarray]:
    if reuse is None or reuse.dense is None:
        return {}
    same = {aid for aid, a in articles.items()
            if aid in reuse.articles and reuse.articles[aid].content_key() == a.content_key()}
    return {pid: vec for pid, vec in reuse.dense.vector_map().items() if reuse.passages.get(pid) in same}


def apply_changes(snapshot: Snapshot, upserts: list[Article], deletes: set[str], revision: int,
                  settings: RetrievalSettings, embedder: Embedder | None) -> Snapshot:
    """A new snapshot with single edits applied incrementally (only the edited articles are embedded)."""
    touched = {a.id for a in upserts} | deletes
    articles = {aid: a for aid, a in snapshot.articles.items() if aid not in touched}
    articles.update({a.id: a for a in upserts})
    passages = {pid: aid for pid, aid in snapshot.passages.items() if aid not in touched}
    removed = np.array([pid for pid, aid in snapshot.passages.items() if aid in touched], dtype=np.int64)
    new_passages = [p for a in upserts for p in article_passages(a, settings.chunk_chars)]
    passages.update({p.pid: p.article_id for p in new_passages})
    dense = snapshot.dense
    if dense is not None and embedder is not None:
        vectors = embed_passages(embedder, new_passages)
        dense = dense.with_changes(removed, vectors, np.array([p.pid for p in new_passages], dtype=np.int64))
    upsert_texts = {a.id: lexical_text(a) for a in upserts}
    lexical = {name: idx.with_changes(upsert_texts, deletes | set(upsert_texts))
               for name, idx in snapshot.lexical.items()}
    return Snapshot(revision, snapshot.model, articles, passages, dense, lexical)


def _safe(model: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in model)


def index_path(index_dir: Path, model: str, revision: int) -> Path:
    return index_dir / f"{_safe(model)}-r{revision}.faiss"


def save_dense(snapshot: Snapshot, index_dir: Path) -> Path | None:
    """Persist the dense part under its model and KB revision; older files for the model are removed."""
    if snapshot.dense is None:
        return None
    path = index_path(index_dir, snapshot.model, snapshot.revision)
    snapshot.dense.save(path)
    meta = {"model": snapshot.model, "revision": snapshot.revision, "dim": snapshot.dense.dim,
            "passages": snapshot.dense.size, "articles": len(snapshot.articles)}
    tmp = path.with_suffix(f".json.tmp{os.getpid()}")
    tmp.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(tmp, path.with_suffix(".json"))
    for old in index_dir.glob(f"{_safe(snapshot.model)}-r*.faiss"):
        if old != path:
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)
    return path


def load_snapshot(index_dir: Path, articles: list[Article], revision: int, settings: RetrievalSettings,
                  model: str) -> Snapshot | None:
    """The persisted index for exactly this model and KB revision, or None (then build)."""
    path = index_path(index_dir, model, revision)
    if not path.is_file():
        return None
    try:
        dense = DenseIndex.load(path, settings.hnsw_above)
    except RuntimeError:
        log.warning("unreadable index %s; rebuilding", path)
        return None
    by_id = {a.id: a for a in articles}
    passages = {p.pid: p.article_id for a in articles for p in article_passages(a, settings.chunk_chars)}
    if set(dense.ids().tolist()) != set(passages):
        log.warning("index %s does not match the knowledge base; rebuilding", path)
        return None
    texts = {aid: lexical_text(a) for aid, a in by_id.items()}
    lexical = {name: LexicalIndex.build(name, tok, texts) for name, tok in lexical_tokenizers(settings).items()}
    return Snapshot(revision, model, by_id, passages, dense, lexical)
