"""Weighted reciprocal rank fusion: each signal contributes ``weight / (rrf_k + rank)``.

Ranks, not raw scores, because cosine and BM25 live on unrelated scales; the weights let a strong
dense model lead while lexical signals break ties on exact identifiers (plan names, codes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def weighted_rrf(rankings: Mapping[str, Sequence[str]], weights: Mapping[str, float], rrf_k: int) -> dict[str, float]:
    """``rankings``: signal → ids best first. Returns id → fused score (unsorted)."""
    fused: dict[str, float] = {}
    for signal, ranked in rankings.items():
        weight = weights.get(signal, 0.0)
        if weight <= 0:
            continue
        for rank, item in enumerate(ranked, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (rrf_k + rank)
    return fused
