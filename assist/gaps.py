"""Knowledge gaps: customer requests the knowledge base failed, grouped so a knowledge manager sees which
question to write an article for.

A request counts when it got no card, only low-confidence cards, or cards the agent dismissed
(``assist/store_insights.py``). Requests are grouped by meaning with the service's own embedder: greedy
clustering in time order, each request joining the closest group whose centroid is at least ``threshold``
cosine away, else starting one. No k to choose, stable as new calls come in (old groups keep their members),
and cheap for the few thousand requests a report covers. The threshold is the embedder's (cosines live on
each model's own scale), chosen on ``eval/data/gaps_dev.jsonl`` with ``python -m eval gaps``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assist.store_insights import RequestRow
from common.text_ja import strip_fillers
from retrieval.base import Embedder

# Cosine a request needs with a group's centroid to join it, per embedder: ``python -m eval gaps`` on 46 failed
# requests in 11 groups (ja + en). The fusion peaks at 0.71 (pairwise F1 0.91) right above a cliff (0.70 merges
# groups: precision 0.84), so 0.72 (precision 1.0, F1 0.87); e5-small alone 0.88 (F1 0.70), USE alone 0.52 (0.93).
GAP_THRESHOLDS: dict[str, float] = {"e5-small+use-multilingual": 0.72, "e5-small": 0.88, "use-multilingual": 0.52}
DEFAULT_THRESHOLD = 0.75  # an embedder not measured yet: rather too many small groups than one big wrong one
MAX_EXAMPLES = 5


def threshold_for(embedder: Embedder) -> float:
    return GAP_THRESHOLDS.get(embedder.name, DEFAULT_THRESHOLD)


@dataclass
class GapCluster:
    """One group of similar failed requests: how many, from how many calls, and what callers said."""

    size: int = 0
    calls: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    articles: list[str] = field(default_factory=list)  # the cards it got most often (low confidence or dismissed)
    examples: list[dict[str, Any]] = field(default_factory=list)  # newest first
    label: str = ""  # the member closest to the centroid: a name for the group

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "size": self.size, "calls": self.calls, "first_ts": self.first_ts,
                "last_ts": self.last_ts, "reasons": self.reasons, "languages": self.languages,
                "articles": self.articles, "examples": self.examples}


def greedy_clusters(vectors: np.ndarray, threshold: float) -> list[int]:
    """Each row's group: rows taken in order, each joining the group with the most similar centroid when that
    cosine reaches ``threshold``, else starting a new one. Rows are L2-normalized."""
    labels: list[int] = []
    sums: list[np.ndarray] = []
    centroids = np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0), dtype=np.float32)
    for v in vectors:
        best = -1
        if len(sums):
            sims = centroids @ v
            best = int(np.argmax(sims))
            if sims[best] < threshold - 1e-9:
                best = -1
        if best < 0:
            sums.append(v.astype(np.float32).copy())
            centroids = np.vstack([centroids, _unit(sums[-1])[None, :]])
            labels.append(len(sums) - 1)
        else:
            sums[best] += v
            centroids[best] = _unit(sums[best])
            labels.append(best)
    return labels


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def cluster_gaps(rows: Sequence[RequestRow], embedder: Embedder, *, threshold: float | None = None,
                 max_examples: int = MAX_EXAMPLES) -> list[GapCluster]:
    """Groups of ``rows``, the largest (most calls, then most requests) first, the newest first among equals."""
    if not rows:
        return []
    ordered = sorted(rows, key=lambda r: (r.ts, r.call_id, r.utterance_id))  # oldest first: stable groups
    vectors = np.asarray(embedder.embed_queries([strip_fillers(r.text) or r.text for r in ordered]), np.float32)
    labels = greedy_clusters(vectors, threshold_for(embedder) if threshold is None else threshold)
    members: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        members.setdefault(label, []).append(i)
    clusters = [_summary([ordered[i] for i in idx], vectors[idx], max_examples) for idx in members.values()]
    clusters.sort(key=lambda c: (-c.calls, -c.size, -c.last_ts))
    return clusters


def _summary(rows: list[RequestRow], vectors: np.ndarray, max_examples: int) -> GapCluster:
    centroid = _unit(vectors.sum(axis=0))
    newest = sorted(rows, key=lambda r: -r.ts)
    seen_texts: set[str] = set()
    examples = []
    for r in newest:  # one example per distinct wording
        if r.text in seen_texts:
            continue
        seen_texts.add(r.text)
        examples.append({"text": r.text, "call_id": r.call_id, "utterance_id": r.utterance_id, "reason": r.reason,
                         "ts": r.ts})
        if len(examples) >= max_examples:
            break
    articles = Counter(a for r in rows if r.reason != "no_card" for a in r.articles[:1])
    return GapCluster(
        size=len(rows), calls=len({r.call_id for r in rows}), first_ts=min(r.ts for r in rows),
        last_ts=max(r.ts for r in rows), reasons=dict(Counter(r.reason for r in rows)),
        languages=dict(Counter(r.language or "-" for r in rows)),
        articles=[a for a, _ in articles.most_common(3)], examples=examples,
        label=rows[int(np.argmax(vectors @ centroid))].text,
    )


def pair_scores(truth: Sequence[str], predicted: Sequence[int]) -> dict[str, float]:
    """Pairwise precision, recall and F1 of a grouping against the true groups (how ``threshold`` is chosen)."""
    tp = fp = fn = 0
    for i in range(len(truth)):
        for j in range(i + 1, len(truth)):
            same, together = truth[i] == truth[j], predicted[i] == predicted[j]
            tp += same and together
            fp += together and not same
            fn += same and not together
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}
