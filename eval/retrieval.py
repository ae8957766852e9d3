"""``python -m eval retrieval``: retrieval quality on a KB file and a query file.

Builds a throwaway index from ``--kb`` (never the server's store) and sends each query through the same
query builder as live calls (``RetrievalService.suggest``). Recall/MRR/nDCG score the ranking whether
or not the caller abstained; abstain is reported on its own: ``false_abstain_rate`` over answerable
queries, ``offtopic_abstain_rate`` over queries with ``relevant: []``. ``--sweep`` compares signal
weightings on one set of cached embeddings; ``--calibrate`` tabulates abstain thresholds.

``--split dev|test`` runs the larger set (``queries_v2.jsonl`` over ``kb.jsonl`` + ``kb_extra.jsonl`` unless
``--queries``/``--kb`` say otherwise) on one of its splits: tune on ``dev`` only (``--fit-rerank`` fits the
second stage and its confidence bands there), report ``test``. ``confidence`` in the JSON line gives, per band
of the top hit, how many queries landed there and how often that top hit was right.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from config import RetrievalSettings, Settings, load_settings
from eval.retrieval_fit import fit_rerank
from eval.stats import percentile
from knowledge.io import apply_import, read_path
from knowledge.store import KnowledgeStore
from models import ModelRegistry
from retrieval.base import Embedder, Suggestion
from retrieval.embedders import build_embedder
from retrieval.service import RetrievalService, confidence
from retrieval.turns import classify_turn, should_query

DATA = Path(__file__).parent / "data"
SWEEP: tuple[tuple[str, dict[str, Any]], ...] = (
    ("dense only", {"dense_weight": 1.0, "bm25_weight": 0.0, "bigram_weight": 0.0}),
    ("bm25 only (Sudachi C)", {"dense_weight": 0.0, "bm25_weight": 1.0, "bigram_weight": 0.0, "sudachi_mode": "C"}),
    ("bm25 only (Sudachi A)", {"dense_weight": 0.0, "bm25_weight": 1.0, "bigram_weight": 0.0, "sudachi_mode": "A"}),
    ("bigram only", {"dense_weight": 0.0, "bm25_weight": 0.0, "bigram_weight": 1.0}),
    ("dense 1 + bm25 1", {"dense_weight": 1.0, "bm25_weight": 1.0, "bigram_weight": 0.0}),
    ("dense 1 + bm25 0.5", {"dense_weight": 1.0, "bm25_weight": 0.5, "bigram_weight": 0.0}),
    ("dense 1 + bm25 0.3", {"dense_weight": 1.0, "bm25_weight": 0.3, "bigram_weight": 0.0}),
    ("dense 1 + bm25 0.3 (A)", {"dense_weight": 1.0, "bm25_weight": 0.3, "bigram_weight": 0.0, "sudachi_mode": "A"}),
    ("dense 1 + bigram 0.3", {"dense_weight": 1.0, "bm25_weight": 0.0, "bigram_weight": 0.3}),
    ("dense 1 + bm25 0.3 + bigram 0.3", {"dense_weight": 1.0, "bm25_weight": 0.3, "bigram_weight": 0.3}),
    ("dense 1 + bm25 0.2 + bigram 0.2", {"dense_weight": 1.0, "bm25_weight": 0.2, "bigram_weight": 0.2}),
    ("dense 1 + bm25 0.1 + bigram 0.3", {"dense_weight": 1.0, "bm25_weight": 0.1, "bigram_weight": 0.3}),
    ("dense 1 + bigram 0.5", {"dense_weight": 1.0, "bm25_weight": 0.0, "bigram_weight": 0.5}),
    ("dense 1 + bigram 0.2", {"dense_weight": 1.0, "bm25_weight": 0.0, "bigram_weight": 0.2}),
    ("dense 1 + bigram 0.3, rrf_k 20", {"dense_weight": 1.0, "bm25_weight": 0.0, "bigram_weight": 0.3, "rrf_k": 20}),
)


@dataclass(frozen=True)
class Query:
    id: str
    query: str
    relevant: list[str]
    language: str | None
    previous: str | None
    split: str | None = None


class CachingEmbedder:
    """Memoizes vectors so a sweep embeds each text once; latency figures come from the plain run."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.parts, self.scales = getattr(inner, "parts", None), getattr(inner, "scales", None)  # a fused model's
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    @property
    def dim(self) -> int:
        return self.inner.dim

    def load(self) -> None:
        if hasattr(self.inner, "load"):
            self.inner.load()

    def _get(self, kind: str, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if (kind, t) not in self._cache]
        if missing:
            fn = self.inner.embed_queries if kind == "q" else self.inner.embed_passages
            for text, vec in zip(missing, fn(missing), strict=True):
                self._cache[(kind, text)] = vec
        return np.stack([self._cache[(kind, t)] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._get("q", texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._get("p", texts)


def load_queries(path: Path) -> list[Query]:
    queries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            queries.append(Query(row["id"], row["query"], list(row.get("relevant") or []), row.get("language"),
                                 row.get("previous"), row.get("split")))
    return queries


def _ndcg(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, aid in enumerate(ranked[:k]) if aid in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def _queries(q: Query) -> bool:
    return should_query(classify_turn(q.query, q.language))


def score(queries: list[Query], results: list[Suggestion], min_score: float) -> dict[str, Any]:
    """Metrics over the answerable queries; abstain rates split by answerable / off-topic."""
    answerable = [(q, r) for q, r in zip(queries, results, strict=True) if q.relevant]
    offtopic = [(q, r) for q, r in zip(queries, results, strict=True) if not q.relevant]
    recall = {k: 0.0 for k in (1, 3, 5)}
    mrr = ndcg = 0.0
    misses = []
    for q, r in answerable:
        ranked = [h.article_id for h in r.hits]
        relevant = set(q.relevant)
        first = next((i for i, aid in enumerate(ranked) if aid in relevant), None)
        for k in recall:
            recall[k] += first is not None and first < k
        mrr += 1 / (first + 1) if first is not None else 0.0
        ndcg += _ndcg(ranked, relevant)
        if first is None or first >= 1:
            misses.append({"id": q.id, "query": q.query, "expected": q.relevant, "got": ranked[:3]})
    n = max(len(answerable), 1)
    latencies = [r.latency_ms for r in results]
    bands: dict[str, dict[str, float]] = {}
    for q, r in zip(queries, results, strict=True):
        if r.hits and not r.abstained:
            band = bands.setdefault(getattr(r.hits[0], "confidence", "low"), {"n": 0, "correct": 0})
            band["n"] += 1
            band["correct"] += r.hits[0].article_id in q.relevant
    confidence = {name: {"n": int(b["n"]), "precision": round(b["correct"] / b["n"], 4)}
                  for name, b in sorted(bands.items())}
    return {
        "recall@1": round(recall[1] / n, 4), "recall@3": round(recall[3] / n, 4),
        "recall@5": round(recall[5] / n, 4), "mrr": round(mrr / n, 4), "ndcg@10": round(ndcg / n, 4),
        "abstain_rate": round(sum(r.abstained for r in results) / max(len(results), 1), 4),
        "false_abstain_rate": round(sum(r.abstained for _, r in answerable) / n, 4),
        "offtopic_abstain_rate": round(sum(r.abstained for _, r in offtopic) / max(len(offtopic), 1), 4),
        # with the live turn gate in front (retrieval.turns): off-topic turns silenced by either, requests lost to it
        "offtopic_silenced_with_gate": round(sum(r.abstained or not _queries(q) for q, r in offtopic)
                                             / max(len(offtopic), 1), 4),
        "answerable_gated": round(sum(not _queries(q) for q, _ in answerable) / n, 4),
        "latency_ms_p50": percentile(latencies, 50, digits=2) or 0.0,
        "latency_ms_p95": percentile(latencies, 95, digits=2) or 0.0,
        "n": len(results), "min_score": min_score, "confidence": confidence, "misses": misses,
    }


def run(service: RetrievalService, queries: list[Query], k: int = 10) -> list[Suggestion]:
    return [service.suggest(q.query, q.previous, language=q.language, k=k) for q in queries]


def build_service(kb: Path | Sequence[Path], settings: RetrievalSettings,
                  embedder: Embedder | None) -> RetrievalService:
    store = KnowledgeStore(":memory:")
    for path in [kb] if isinstance(kb, Path) else kb:
        apply_import(store, read_path(path))
    service = RetrievalService(settings, embedder, store)
    service.load()
    return service


def calibrate(queries: list[Query], results: list[Suggestion]) -> list[dict[str, float]]:
    """For candidate thresholds: how many answerable queries would be silenced, how many off-topic ones."""
    conf = [(bool(q.relevant), confidence(r.hits[0]) if r.hits else 0.0) for q, r in zip(queries, results, strict=True)]
    answerable = [c for is_answerable, c in conf if is_answerable]
    offtopic = [c for is_answerable, c in conf if not is_answerable]
    rows = []
    for t in sorted({round(c, 3) for c in answerable + offtopic} | {0.0}):
        rows.append({"threshold": t,
                     "false_abstain": round(sum(c < t for c in answerable) / max(len(answerable), 1), 4),
                     "offtopic_abstain": round(sum(c < t for c in offtopic) / max(len(offtopic), 1), 4)})
    return rows


def _print_report(name: str, metrics: dict[str, Any]) -> None:
    print(f"{name}: R@1 {metrics['recall@1']:.3f}  R@3 {metrics['recall@3']:.3f}  R@5 {metrics['recall@5']:.3f}  "
          f"MRR {metrics['mrr']:.3f}  nDCG@10 {metrics['ndcg@10']:.3f}  abstain {metrics['abstain_rate']:.3f} "
          f"(answerable {metrics['false_abstain_rate']:.3f}, off-topic {metrics['offtopic_abstain_rate']:.3f}; "
          f"off-topic with the turn gate {metrics['offtopic_silenced_with_gate']:.3f})  "
          f"p50 {metrics['latency_ms_p50']:.1f} ms  p95 {metrics['latency_ms_p95']:.1f} ms  n={metrics['n']}  "
          "top hit right by confidence: " + ", ".join(f"{band} {b['precision']:.2f} (n={b['n']})"
                                                       for band, b in metrics["confidence"].items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval retrieval", description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, action="append",
                        help="KB file (repeatable); default kb.jsonl, plus kb_extra.jsonl with --split")
    parser.add_argument("--queries", type=Path, help="default queries.jsonl, queries_v2.jsonl with --split")
    parser.add_argument("--split", choices=("dev", "test"), help="Only the queries of this split")
    parser.add_argument("--config", help="TOML settings file")
    parser.add_argument("--embedder", help="Registry name or folder (default: settings)")
    for name in ("dense_weight", "bm25_weight", "bigram_weight", "min_score"):
        parser.add_argument("--" + name.replace("_", "-"), type=float)
    parser.add_argument("--reading-weight", type=float)
    parser.add_argument("--rrf-k", type=int)
    parser.add_argument("--no-rerank", action="store_true", help="First stage only (fused order)")
    parser.add_argument("--fit-rerank", action="store_true",
                        help="Fit the second stage and its confidence bands on these queries (dev!) and print them")
    parser.add_argument("--sudachi-mode", choices=("A", "B", "C"))
    parser.add_argument("--sweep", action="store_true", help="Compare signal weightings (cached embeddings)")
    parser.add_argument("--calibrate", action="store_true", help="Print the abstain-threshold table")
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--json", action="store_true", help="Print only the JSON line")
    args = parser.parse_args(argv)

    settings: Settings = load_settings(args.config)
    overrides = {k: v for k, v in vars(args).items()
                 if k in RetrievalSettings.model_fields and v is not None}
    if args.embedder:
        overrides["embedder"] = args.embedder
    if args.no_rerank:
        overrides["rerank"] = False
    rs = settings.retrieval.model_copy(update=overrides)
    settings = settings.model_copy(update={"retrieval": rs})
    kb = args.kb or ([DATA / "kb.jsonl", DATA / "kb_extra.jsonl"] if args.split else [DATA / "kb.jsonl"])
    queries = load_queries(args.queries or DATA / ("queries_v2.jsonl" if args.split else "queries.jsonl"))
    if args.split:
        queries = [q for q in queries if q.split == args.split]

    needs_dense = rs.dense_weight > 0 or args.sweep
    embedder = (build_embedder(rs, ModelRegistry(settings.models_dir), allow_downloads=settings.allow_downloads)
                if needs_dense else None)
    if embedder is not None:
        started = time.perf_counter()
        embedder.load()
        if not args.json:
            print(f"embedder {embedder.name} loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    if args.sweep:
        assert embedder is not None  # a sweep always needs the dense model (needs_dense)
        cached = CachingEmbedder(embedder)
        rows = []
        for label, update in SWEEP:
            config = rs.model_copy(update=update)
            service = build_service(kb, config, cached if config.dense_weight > 0 else None)
            metrics = score(queries, run(service, queries), service.abstain_threshold)
            rows.append((label, metrics))
            _print_report(label, metrics)
        print("\n| configuration | R@1 | R@3 | R@5 | MRR | nDCG@10 |\n|---|---|---|---|---|---|")
        for label, m in rows:
            print(f"| {label} | {m['recall@1']:.3f} | {m['recall@3']:.3f} | {m['recall@5']:.3f} | {m['mrr']:.3f} "
                  f"| {m['ndcg@10']:.3f} |")

    service = build_service(kb, rs, embedder)
    if args.fit_rerank:
        model = fit_rerank(service, queries)
        service.use_rerank_model(model)
        if not args.json:
            print(f"\nsecond stage for {service.embedder.name if service.embedder else 'none'} "
                  f"(paste into retrieval/calibration.py):\n{model!r}")
    run(service, queries[:5])  # warm-up: first calls pay lazy initialization
    results = run(service, queries)
    metrics = score(queries, results, service.abstain_threshold)
    if args.calibrate and not args.json:
        print("\n| threshold | answerable silenced | off-topic silenced |\n|---|---|---|")
        for row in calibrate(queries, results):
            print(f"| {row['threshold']:.3f} | {row['false_abstain']:.3f} | {row['offtopic_abstain']:.3f} |")
    if args.show_misses and not args.json:
        for miss in metrics["misses"]:
            print(json.dumps(miss, ensure_ascii=False))
    if not args.json:
        stage = "second stage" if service.rerank_model is not None else "fused order"
        _print_report(f"{rs.embedder} dense {rs.dense_weight} bm25 {rs.bm25_weight} bigram {rs.bigram_weight} "
                      f"reading {rs.reading_weight}, {stage}", metrics)
    metrics.pop("misses")
    print(json.dumps(metrics))
    return 0
