"""``python -m eval gaps``: how well knowledge-gap clustering (``assist/gaps.py``) groups paraphrases, per
cosine threshold, on a list of failed requests with their true groups (``eval/data/gaps_dev.jsonl``).

Prints one line per threshold (pairwise precision / recall / F1 and the number of groups); the last stdout line
is the headline JSON with the best threshold, which goes into ``assist.gaps.GAP_THRESHOLDS`` for that embedder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from assist.gaps import greedy_clusters, pair_scores
from common.text_ja import strip_fillers
from config import load_settings
from models import ModelRegistry
from retrieval.embedders import build_embedder

DATA = Path(__file__).resolve().parent / "data" / "gaps_dev.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval gaps", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--config", type=Path, help="settings TOML (its retrieval.embedder is measured)")
    parser.add_argument("--from", dest="low", type=float, default=0.3)
    parser.add_argument("--to", dest="high", type=float, default=0.95)
    parser.add_argument("--step", type=float, default=0.02)
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    embedder = build_embedder(settings.retrieval, ModelRegistry(settings.models_dir),
                              allow_downloads=settings.allow_downloads)
    embedder.load()
    vectors = np.asarray(embedder.embed_queries([strip_fillers(r["text"]) or r["text"] for r in rows]), np.float32)
    truth = [r["group"] for r in rows]
    best: dict[str, float] = {"f1": -1.0}
    for threshold in np.arange(args.low, args.high + 1e-9, args.step):
        labels = greedy_clusters(vectors, float(threshold))
        scores = {**pair_scores(truth, labels), "groups": len(set(labels)), "threshold": round(float(threshold), 3)}
        print(json.dumps(scores))
        if scores["f1"] > best["f1"]:
            best = scores
    print(json.dumps({"embedder": embedder.name, "requests": len(rows), "true_groups": len(set(truth)), **best}))
    return 0
