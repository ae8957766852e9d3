"""Choose and check the paraphrase similarity of the abuse alerts (assist/alerts/paraphrase.py) for an embedder.

``python -m eval.alerts_paraphrase --split dev`` scores the dev rows of eval/data/alerts_paraphrase.jsonl
(カスハラ paraphrases that hardly any lexicon phrase covers, and calm or merely unhappy sentences: complaints, cancellation
and manager requests that are *not* harassment) plus every customer turn of the dev calls in eval/data/calls*.jsonl,
and prints the threshold: the highest calm sentence's score plus a safety margin of ``MARGIN``, rounded up to
0.005, so the dev list raises no false alert with room to spare; then the recall it gives. ``--split test --similarity X`` checks a chosen
value on the held-out rows. The chosen value goes into ``CALIBRATED_SIMILARITY``.

What ASR heard joins the calm list too: the customer turns of the calm calls of an ``eval calls --details`` run of
the split (``eval/data/heard/<split>_calls.json`` unless ``--transcripts`` names others), each with every run of its consecutive clauses (a final ends wherever the caller paused, so the
matcher meets fragments such as 「Aと今月の名前に、全然知らないネットのゲーム会社から、」, which script text never
shows it).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from assist.alerts.paraphrase import Paraphraser
from config import load_settings
from models import ModelRegistry
from retrieval.embedders import build_embedder

DATA = Path(__file__).resolve().parent / "data"
# The dev list is small: a calm sentence of another call may score a little above its best. Split-half on the dev
# calls as heard (200 random halves): the held-out half's highest calm exceeded the calibrated half's by up to 0.016.
MARGIN = 0.02
HEARD = DATA / "heard"  # `eval calls --details` runs of each split, reduced to what the replays read


def rows(split: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(category, text) of the paraphrases and the calm texts of ``split``."""
    positives, calm = [], []
    for line in (DATA / "alerts_paraphrase.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["split"] != split:
            continue
        if row["category"]:
            positives.append((row["category"], row["text"]))
        else:
            calm.append(row["text"])
    for name in ("calls.jsonl", "calls_v2.jsonl", "calm_bait.jsonl"):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            call = json.loads(line)
            if call.get("split", "dev") == split:
                calm += [t["text"] for t in call["turns"] if t["speaker"] == "customer"]
    return positives, calm


_CLAUSE_END = re.compile(r"(?<=[、。,.!?！？])\s*")
MAX_CLAUSES = 6  # longer turns: spans of up to this many clauses


def heard_calm(details: Iterable[Path]) -> list[str]:
    """Customer turns as heard in calm calls (no expected alert), and every run of their consecutive clauses."""
    out: list[str] = []
    for path in details:
        for call in json.loads(path.read_text(encoding="utf-8")):
            if (call.get("alerts") or {}).get("escalation"):
                continue
            for turn in call["turns"]:
                if turn["speaker"] != "customer" or not turn.get("hypothesis"):
                    continue
                clauses = [c for c in _CLAUSE_END.split(turn["hypothesis"]) if c.strip()]
                spans = {"".join(clauses[i:j]) for i in range(len(clauses))
                         for j in range(i + 1, min(len(clauses), i + MAX_CLAUSES) + 1)}
                out += sorted(spans)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.alerts_paraphrase", description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--similarity", type=float, help="Check this value instead of choosing one")
    parser.add_argument("--config", help="Settings TOML (retrieval.embedder names the embedder)")
    parser.add_argument("--transcripts", type=Path, action="append", default=[],
                        help="`eval calls --details` output of this split (default: eval/data/heard/<split>_calls.json)")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    embedder = build_embedder(settings.retrieval, ModelRegistry(settings.models_dir),
                              allow_downloads=settings.allow_downloads)
    embedder.load()
    matcher = Paraphraser(embedder, similarity=1.0)
    positives, calm = rows(args.split)
    calm += heard_calm(args.transcripts or [HEARD / f"{args.split}_calls.json"])
    scored_calm = [(matcher.score(t), t) for t in calm]
    calm_best = sorted(((max(s.scores.values()), t) for s, t in scored_calm if s is not None), reverse=True)
    pos_scores = [(cat, s, text) for cat, text in positives if (s := matcher.score(text)) is not None]
    threshold = args.similarity
    if threshold is None:
        threshold = math.ceil((calm_best[0][0] + MARGIN) / 0.005 - 1e-9) * 0.005
    hits = [(cat, s, t) for cat, s, t in pos_scores if max(s.scores.values()) >= threshold]
    right = [h for h in hits if max(h[1].scores, key=lambda c: h[1].scores[c]) == h[0]]
    false = [(s, t) for s, t in calm_best if s >= threshold]
    print(f"embedder {embedder.name}, split {args.split}: {len(positives)} paraphrases, {len(calm)} calm sentences")
    print(f"similarity {threshold:.3f}: recall {len(hits)}/{len(positives)} ({len(right)} with the right category), "
          f"false alerts {len(false)}/{len(calm)}")
    print("highest calm:", *(f"  {s:.3f} {t}" for s, t in calm_best[:3]), sep="\n")
    missed = [(max(s.scores.values()), t) for _, s, t in pos_scores if max(s.scores.values()) < threshold]
    print("missed:", *(f"  {s:.3f} {t}" for s, t in sorted(missed, reverse=True)), sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
