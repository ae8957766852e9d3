"""``python -m eval bench-retrieval``: query latency, memory and build time at 1 k / 10 k / 100 k articles.

Articles are synthesized by perturbing the dev KB (real text for the lexical indexes). Passage vectors
are random unit vectors: embedding 100 k articles with e5 on 2 cores takes hours, and index cost does
not depend on what the vectors mean. Queries are the dev queries, embedded by the real model, so
"query" latency is end to end (query building, embedding, FAISS, lexical, fusion); "index" latency
repeats them with cached query vectors. Real passage-embedding throughput is measured separately.
Everything runs on one thread (torch, FAISS/OpenMP, BLAS) to match the one-core target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from tqdm import tqdm

from config import load_settings
from eval.retrieval import DATA, CachingEmbedder, load_queries
from eval.stats import percentile
from knowledge.article import Article
from knowledge.io import read_path
from knowledge.store import KnowledgeStore
from models import ModelRegistry
from retrieval.base import Embedder
from retrieval.embedders import build_embedder
from retrieval.passages import article_passages
from retrieval.service import RetrievalService
from retrieval.snapshot import build_snapshot

_VARIANTS = ("ライト", "プラス", "プレミアム", "ゴールド", "ビジネス", "ファミリー", "Lite", "Pro", "Max", "Basic")
_NUMBER = re.compile(r"\d+")


class RandomPassages:
    """Real query embeddings, random unit vectors for passages (see the module docstring)."""

    def __init__(self, inner: Embedder, seed: int = 0) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._rng = np.random.default_rng(seed)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        v = self._rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def synthesize(base: list[Article], n: int, seed: int = 0) -> list[Article]:
    """``n`` distinct articles: dev articles with renamed products, shuffled sentences, changed numbers."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a = base[i % len(base)]
        variant = f"{rng.choice(_VARIANTS)}{i}"
        sentences = [s for s in re.split(r"(?<=[。.])\s*", a.answer) if s]
        rng.shuffle(sentences)
        answer = _NUMBER.sub(lambda m: str(int(m.group(0)) + rng.randint(1, 9)), "".join(sentences))
        out.append(a.model_copy(update={"id": f"{a.id}-{i}", "title": f"{a.title}（{variant}）",
                                        "answer": f"{variant}: {answer}"}))
    return out


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def bench_scale(articles: list[Article], settings: Any, inner: Embedder, queries: list[str],
                index_dir: Path) -> dict[str, Any]:
    embedder = CachingEmbedder(inner)  # fresh per scale: the first pass pays real query embeddings
    store = KnowledgeStore(":memory:")
    store.upsert_many(articles)
    before = rss_mb()
    started = time.perf_counter()
    snapshot = build_snapshot(store.all(), store.revision, settings, RandomPassages(embedder), progress=False)
    build_s = time.perf_counter() - started
    dense = snapshot.dense
    assert dense is not None  # an embedder and dense_weight > 0 always build one
    memory = rss_mb() - before
    service = RetrievalService(settings, embedder, store)
    service._swap(snapshot, notify=False)
    started = time.perf_counter()
    path = index_dir / "bench.faiss"
    dense.save(path)
    save_s = time.perf_counter() - started
    total = [service.suggest(q).latency_ms for q in queries]  # real query embeddings (first time each)
    index_only = [service.suggest(q).latency_ms for q in queries]  # cached query vectors
    return {
        "articles": len(articles), "passages": dense.size,
        "index": "flat" if dense.is_flat else "hnsw",
        "build_s": round(build_s, 2), "save_s": round(save_s, 3),
        "index_file_mb": round(path.stat().st_size / 1e6, 1), "rss_delta_mb": round(memory, 1),
        "query_ms_p50": percentile(total, 50, digits=2),
        "query_ms_p95": percentile(total, 95, digits=2),
        "index_ms_p50": percentile(index_only, 50, digits=2),
        "index_ms_p95": percentile(index_only, 95, digits=2),
    }


def embedding_throughput(embedder: Embedder, kb: list[Article], settings: Any) -> dict[str, float]:
    texts = [p.text for a in kb for p in article_passages(a, settings.chunk_chars)]
    started = time.perf_counter()
    embedder.embed_passages(texts)
    seconds = time.perf_counter() - started
    return {"passages": len(texts), "seconds": round(seconds, 2), "passages_per_s": round(len(texts) / seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval bench-retrieval", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="Comma-separated article counts")
    parser.add_argument("--kb", type=Path, default=DATA / "kb.jsonl")
    parser.add_argument("--queries", type=Path, default=DATA / "queries.jsonl")
    parser.add_argument("--config", help="TOML settings file")
    parser.add_argument("--json", action="store_true", help="Print only the JSON line")
    args = parser.parse_args(argv)

    faiss.omp_set_num_threads(1)
    settings = load_settings(args.config)
    rs = settings.retrieval
    inner = build_embedder(rs, ModelRegistry(settings.models_dir), allow_downloads=settings.allow_downloads)
    inner.load()
    kb = read_path(args.kb)
    queries = [q.query for q in load_queries(args.queries) if q.relevant]
    throughput = embedding_throughput(inner, kb, rs)
    if not args.json:
        print(f"{inner.name}: {throughput['passages_per_s']} passages/s "
              f"({throughput['passages']} dev passages in {throughput['seconds']} s, 1 thread)")
    rows = []
    index_dir = settings.home / "bench-index"
    index_dir.mkdir(parents=True, exist_ok=True)
    for n in tqdm([int(s) for s in args.sizes.split(",")], desc="scales", disable=args.json):
        row = bench_scale(synthesize(kb, n), rs, inner, queries, index_dir)
        rows.append(row)
        if not args.json:
            print(f"{row['articles']:>7} articles {row['passages']:>7} passages ({row['index']}): build "
                  f"{row['build_s']} s, +{row['rss_delta_mb']} MB RSS, file {row['index_file_mb']} MB; query p50 "
                  f"{row['query_ms_p50']} / p95 {row['query_ms_p95']} ms; index-only p50 {row['index_ms_p50']} / "
                  f"p95 {row['index_ms_p95']} ms")
    (index_dir / "bench.faiss").unlink(missing_ok=True)
    config = {"embedder": rs.embedder, "dense_weight": rs.dense_weight, "bm25_weight": rs.bm25_weight,
              "bigram_weight": rs.bigram_weight, "hnsw_above": rs.hnsw_above}
    print(json.dumps({"embedding": throughput, "scales": rows, "config": config, "queries": len(queries)}))
    return 0
