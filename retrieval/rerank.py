"""Second stage: re-score the first stage's top candidates and say how sure the ranking is.

Rank fusion alone cannot separate near-ties (e5-small gives カードの解約, SIMカードの紛失 and カードを紛失・盗難
cosines within 0.001 of each other for 「サイフごとカードを落としてしまって」). The second stage looks at each
candidate more closely: how close the query is to the article's own caller questions, how much of the query's
*reading* the title, questions and tags cover (サイフ meets 財布), whether the title is in the query, whether the
candidate's category agrees with the other top candidates, and where the first stage put it. A logistic model
over these features, fitted per embedder on the dev queries (``python -m eval retrieval --fit-rerank``), turns
them into a probability that the article answers the query; that probability orders the candidates and, cut at
thresholds calibrated on the same split, becomes the confidence an agent reads: high / medium / low.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from knowledge.article import Article
from retrieval.base import Confidence
from retrieval.lexical import LexicalIndex
from retrieval.reading import reading_bigram_set

# A fused embedder adds ``dense@model``, ``dense_gap@model`` and ``question_gap@model`` for each model.
FEATURES: tuple[str, ...] = ("dense", "dense_gap", "question_gap", "fused", "inv_rank", "reading", "head", "title",
                             "category", "lang")
CATEGORY_WINDOW = 5


@dataclass(frozen=True)
class RerankModel:
    """Logistic weights over ``FEATURES`` plus the probability cuts: ``high`` and ``medium`` band a hit;
    below ``abstain`` the top hit is not worth showing at all."""

    weights: Mapping[str, float]
    bias: float
    high: float
    medium: float
    abstain: float

    def probability(self, features: Mapping[str, float]) -> float:
        z = self.bias + sum(w * features.get(name, 0.0) for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def band(self, probability: float) -> Confidence:
        if probability >= self.high:
            return "high"
        return "medium" if probability >= self.medium else "low"


@dataclass
class Candidate:
    """One first-stage candidate with what the second stage knows about it."""

    article_id: str
    fused: float
    rank: int
    signals: dict[str, float]
    features: dict[str, float] = field(default_factory=dict)


def _idf(index: LexicalIndex | None, gram: str) -> float:
    """BM25's idf of a reading bigram over the KB; 0 for a bigram no article has (it tells candidates apart
    no better than silence), 1 everywhere without a reading index."""
    if index is None:
        return 1.0
    df = index.document_frequency(gram)
    n = len(index.ids)
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5)) if df else 0.0


def compute_features(query: str, language: str | None, candidates: Sequence[Candidate],
                     articles: Mapping[str, Article], dense: Mapping[str, Mapping[str, float]] | None,
                     reading_index: LexicalIndex | None) -> None:
    """Fill ``candidate.features``. ``dense`` maps an article to its cosines (``dense``: best passage,
    ``question``: best caller question; ``…@model`` the same per model of a fused embedder)."""
    if not candidates:
        return
    query_grams = reading_bigram_set(query)
    weights = {g: _idf(reading_index, g) for g in query_grams}
    total = sum(weights.values())
    tops: dict[str, float] = {}
    for scores in (dense or {}).values():
        for key, value in scores.items():
            tops[key] = max(tops.get(key, value), value)
    top_fused = max(c.fused for c in candidates) or 1.0
    top_reading = max((c.signals.get("reading", 0.0) for c in candidates), default=0.0) or 1.0
    window = candidates[:CATEGORY_WINDOW]
    window_mass = sum(c.fused for c in window) or 1.0
    for c in candidates:
        article = articles[c.article_id]
        head = reading_bigram_set("\n".join([article.title, *article.questions, *article.tags]))
        title = reading_bigram_set(article.title)
        features = {
            "fused": c.fused / top_fused,
            "inv_rank": 1.0 / c.rank,
            "reading": c.signals.get("reading", 0.0) / top_reading,
            "head": sum(w for g, w in weights.items() if g in head) / total if total else 0.0,
            "title": len(title & query_grams) / len(title) if title else 0.0,
            "category": (sum(o.fused for o in window if o.article_id != c.article_id
                             and articles[o.article_id].category == article.category) / window_mass
                         if article.category else 0.0),
            "lang": 1.0 if language is None or article.language == language else 0.0,
        }
        scores = (dense or {}).get(c.article_id, tops)
        for key, top in tops.items():
            kind, _, model = key.partition("@")
            suffix = f"@{model}" if model else ""
            value = scores.get(key, top)
            if kind == "dense":
                features["dense" + suffix] = value
            features[f"{kind}_gap{suffix}"] = value - top
        c.features = features


def fit_logistic(rows: Sequence[Mapping[str, float]], labels: Sequence[int], *, l2: float = 1.0,
                 iterations: int = 50) -> tuple[dict[str, float], float]:
    """L2-regularized logistic regression by Newton's method (a dozen features: no library needed)."""
    names = [f for f in FEATURES if any(f in row for row in rows)]
    names += sorted({f for row in rows for f in row} - set(names))
    raw = np.array([[row.get(f, 0.0) for f in names] for row in rows], dtype=np.float64)
    # Standardized for the fit (cosine gaps span hundredths, ranks whole units), returned on the raw scale.
    mean, std = raw.mean(axis=0), raw.std(axis=0)
    std[std < 1e-9] = 1.0
    x = np.hstack([(raw - mean) / std, np.ones((len(raw), 1))])
    y = np.asarray(labels, dtype=np.float64)
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (p - y) + penalty * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    coef = w[:-1] / std
    bias = w[-1] - float(coef @ mean)
    return {f: round(float(v), 4) for f, v in zip(names, coef, strict=True)}, round(float(bias), 4)
