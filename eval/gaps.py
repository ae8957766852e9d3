"""``python -m eval gaps``: how well knowledge-gap clustering (``assist/gaps.py``) groups paraphrases, per
cosine threshold, on a list of failed requests with their true groups (``eval/data/gaps_dev.jsonl``).

Prints one line per threshold (pairwise precision / recall / F1 and the number of groups); the last stdout line
is the headline JSON with the best threshold, which goes into ``assist.gaps.GAP_THRESHOLDS`` for that embedder.
``--split test`` reads the held-out list (``gaps_test.jsonl``: other requests and groups, written apart from the
dev list) and scores the threshold in force (``assist.gaps.threshold_for``, or ``--threshold``): what the dev
choice gives on requests it was not chosen on.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from assist.gaps import group_requests, pair_scores, threshold_for
from common.text_ja import strip_fillers
from config import load_settings
from models import ModelRegistry
from retrieval.embedders import build_embedder

DATA = Path(__file__).resolve().parent / "data" / "gaps_dev.jsonl"
TEST_DATA = DATA.with_name("gaps_test.jsonl")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval gaps", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="requests with their true groups (default: the split's list)")
    parser.add_argument("--split", choices=("dev", "test"), default="dev",
                        help="dev: sweep thresholds and pick the best; test: score the threshold in force")
    parser.add_argument("--threshold", type=float, help="score only this threshold")
    parser.add_argument("--config", type=Path, help="settings TOML (its retrieval.embedder is measured)")
    parser.add_argument("--from", dest="low", type=float, default=0.3)
    parser.add_argument("--to", dest="high", type=float, default=0.95)
    parser.add_argument("--step", type=float, default=0.02)
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    data = args.data or (DATA if args.split == "dev" else TEST_DATA)
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    embedder = build_embedder(settings.retrieval, ModelRegistry(settings.models_dir),
                              allow_downloads=settings.allow_downloads)
    embedder.load()
    vectors = np.asarray(embedder.embed_queries([strip_fillers(r["text"]) or r["text"] for r in rows]), np.float32)
    truth = [r["group"] for r in rows]
    best: dict[str, float] = {"f1": -1.0}
    fixed = args.threshold if args.threshold is not None else threshold_for(embedder) if args.split == "test" else None
    sweep = [fixed] if fixed is not None else np.arange(args.low, args.high + 1e-9, args.step)
    for threshold in sweep:
        labels = group_requests(vectors, float(threshold))
        scores = {**pair_scores(truth, labels), "groups": len(set(labels)), "threshold": round(float(threshold), 3)}
        print(json.dumps(scores))
        if scores["f1"] > best["f1"]:
            best = scores
    print(json.dumps({"embedder": embedder.name, "split": args.split, "requests": len(rows),
                      "true_groups": len(set(truth)), **best}))
    return 0
