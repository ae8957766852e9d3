"""Fitting the second stage (``python -m eval retrieval --split dev --fit-rerank``).

The logistic weights are fitted on every dev query's candidates; the confidence cuts come from out-of-fold
probabilities (each query scored by a model that never saw it), so the bands' precision on dev is not the
in-sample flattery of the fit. Targets: the top hit is right ≥ ``HIGH_PRECISION`` of the time in "high" and
≥ ``MEDIUM_PRECISION`` in "medium"; the abstain cut silences at most ``MAX_SILENCED`` of the answerable
queries (a missing card costs the agent more than an extra one).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from retrieval.query import build_query
from retrieval.rerank import Candidate, RerankModel, fit_logistic
from retrieval.service import RetrievalService

log = logging.getLogger(__name__)

HIGH_PRECISION = 0.95
MEDIUM_PRECISION = 0.6
MAX_SILENCED = 0.02
FOLDS = 5
L2 = 1.0


def _cuts(tops: list[tuple[float, bool, bool]]) -> tuple[float, float, float]:
    """(high, medium, abstain) from (top probability, top is right, query is answerable) per query."""
    ranked = sorted(tops, key=lambda t: -t[0])
    high, right = 1.0, 0
    for i, (p, ok, _) in enumerate(ranked, start=1):
        right += ok
        if right / i >= HIGH_PRECISION:
            high = p
    below = [t for t in ranked if t[0] < high]
    medium, right = high, 0
    for i, (p, ok, _) in enumerate(below, start=1):
        right += ok
        if right / i >= MEDIUM_PRECISION:
            medium = p
    answerable = sorted(p for p, _, a in tops if a)
    allowed = int(MAX_SILENCED * len(answerable))
    abstain = answerable[allowed] if answerable else 0.0
    return round(high, 4), round(min(medium, high), 4), round(min(abstain, medium), 4)


def _positives(service: RetrievalService, query: Any) -> set[str]:
    """What the model learns to put first: the relevant articles in the call's language when there are any
    (an English twin is right for a Japanese caller, but the Japanese article is better)."""
    same = {aid for aid in query.relevant
            if (article := service.get_article(aid)) is not None and article.language == query.language}
    return same or set(query.relevant)


def fit_rerank(service: RetrievalService, queries: Sequence[Any]) -> RerankModel:
    """Fit on ``queries`` (objects with ``query``, ``previous``, ``language``, ``relevant``)."""
    groups: list[tuple[list[Candidate], set[str]]] = []
    right: list[set[str]] = []
    for q in queries:
        text = build_query(q.query, q.previous).text
        groups.append((service.candidates(text, language=q.language) if text else [], _positives(service, q)))
        right.append(set(q.relevant))
    tops: list[tuple[float, bool, bool]] = []
    for fold in range(FOLDS):
        train = [g for i, g in enumerate(groups) if i % FOLDS != fold]
        weights, bias = fit_logistic([c.features for cands, _ in train for c in cands],
                                     [int(c.article_id in rel) for cands, rel in train for c in cands], l2=L2)
        model = RerankModel(weights, bias, 1.0, 1.0, 0.0)
        for i, (cands, rel) in enumerate(groups):
            if i % FOLDS == fold:
                scored = [(model.probability(c.features), c.article_id) for c in cands]
                p, aid = max(scored, default=(0.0, ""))
                tops.append((p, aid in right[i], bool(rel)))
    weights, bias = fit_logistic([c.features for cands, _ in groups for c in cands],
                                 [int(c.article_id in rel) for cands, rel in groups for c in cands], l2=L2)
    high, medium, abstain = _cuts(tops)
    log.info("second stage fitted on %d queries: high %.3f medium %.3f abstain %.3f", len(groups), high, medium,
             abstain)
    return RerankModel(weights, bias, high, medium, abstain)
