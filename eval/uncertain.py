"""``python -m eval uncertain --manifest M.jsonl [--kb KB.jsonl] [--save F.jsonl | --load F.jsonl] [--json]``

Calibrates the probability under which a number in a final is *uncertain* (``summarize/uncertain.py``).
Every utterance goes through the live ``AsrEngine`` (glossary from ``--kb``, vocabulary correction), each
final is masked as the service masks it, and every number left in it is scored with the lowest probability
of its decoded pieces. A number is *right* when the reference holds its value (三万円 = 30000), else *wrong*
(a misheard amount, or a word Whisper wrote as digits: 5成球). The threshold is chosen on the ``dev`` split —
the highest one whose needless flags stay within ``--max-needless`` of the right numbers, which then flags
the most wrong ones — and reported on ``test`` beside it. ``--save`` keeps the scored numbers so
``--load`` can re-run the choice without decoding. The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from asr.audio import read_wav
from asr.engine import AsrEngine, transcribe_stream
from asr.whisper import WhisperRecognizer
from config import load_settings
from eval.asr import kb_glossary, kb_vocabulary, read_manifest
from models import ModelRegistry
from summarize.masking import Masker
from summarize.numbers import number_values
from summarize.uncertain import DEFAULT_THRESHOLD, numbers, score_numbers

GRID = [round(0.05 * i, 2) for i in range(1, 20)]


def scored_numbers(manifest: Path, kb: Path | None, config: Path | None) -> list[dict[str, Any]]:
    """One row per number in a masked final: its utterance, text, value, probability and whether it is right."""
    settings = load_settings(config)
    items = read_manifest(manifest)
    engine = AsrEngine(WhisperRecognizer.from_settings(settings.asr, ModelRegistry(settings.models_dir),
                                                       allow_downloads=settings.allow_downloads),
                       settings.asr.model_copy(update={"partial_interval_s": 0.0}))
    if kb is not None:
        engine.set_glossary(kb_glossary(kb), vocabulary=kb_vocabulary(kb))
    masker = Masker(settings.privacy.mask_entities)
    rows: list[dict[str, Any]] = []
    try:
        for item in tqdm(items, desc="uncertain", file=sys.stderr, leave=False):
            audio = read_wav(item.audio, strict=True)
            events = transcribe_stream(engine, audio, 100, call_id=item.id, language=item.language, timeout=120)
            said = number_values(item.text, item.language)
            said |= {value for _, _, value in numbers(item.text, item.language)}  # 090-8765-4321 as one number
            for e in events:
                if not e.final:
                    continue
                text = masker(e.text, item.language)
                for n in score_numbers(text, e.words, item.language):
                    rows.append({"id": item.id, "split": item.split, "channel": item.channel,
                                 "language": item.language, "final": text, "number": text[n.start:n.end],
                                 "value": n.value, "probability": n.probability, "pieces": n.pieces,
                                 "implausible": n.implausible, "right": n.value in said})
    finally:
        engine.close()
    return rows


def flagged(row: dict[str, Any], threshold: float) -> bool:
    """As the live session decides (``summarize.uncertain.uncertain_spans``)."""
    return bool(row.get("implausible")) or (row["probability"] is not None and row["probability"] < threshold)


def rates(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Of the numbers in the hypotheses: wrong ones flagged, right ones flagged needlessly."""
    wrong = [r for r in rows if not r["right"]]
    right = [r for r in rows if r["right"]]
    wrong_flagged = sum(flagged(r, threshold) for r in wrong)
    right_flagged = sum(flagged(r, threshold) for r in right)
    return {"threshold": threshold, "numbers": len(rows), "wrong": len(wrong), "wrong_flagged": wrong_flagged,
            "right": len(right), "right_flagged": right_flagged,
            "wrong_flagged_rate": round(wrong_flagged / len(wrong), 3) if wrong else None,
            "right_flagged_rate": round(right_flagged / len(right), 3) if right else None,
            "implausible": sum(bool(r.get("implausible")) for r in rows),
            "unscored": sum(r["probability"] is None for r in rows)}


def choose(rows: list[dict[str, Any]], max_needless: float) -> float:
    """The highest grid threshold whose needless flags stay within ``max_needless`` of the right numbers."""
    ok = [t for t in GRID if (rates(rows, t)["right_flagged_rate"] or 0.0) <= max_needless]
    return max(ok) if ok else GRID[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval uncertain", description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=Path("eval/data/asr/manifest.jsonl"))
    parser.add_argument("--kb", type=Path, help="knowledge base jsonl: its tags and titles become the glossary")
    parser.add_argument("--config", type=Path, help="settings TOML")
    parser.add_argument("--save", type=Path, help="write the scored numbers here (jsonl)")
    parser.add_argument("--load", type=Path, help="read scored numbers written by --save instead of decoding")
    parser.add_argument("--max-needless", type=float, default=0.25,
                        help="the share of right numbers the chosen threshold may flag on dev")
    parser.add_argument("--json", action="store_true", help="print only the JSON summary")
    args = parser.parse_args(argv)

    if args.load:
        rows = [json.loads(line) for line in args.load.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        rows = scored_numbers(args.manifest, args.kb, args.config)
    if args.save:
        args.save.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    dev = [r for r in rows if r["split"] == "dev"]
    test = [r for r in rows if r["split"] == "test"]
    chosen = choose(dev, args.max_needless)
    summary = {
        "chosen": chosen,
        "default": DEFAULT_THRESHOLD,
        "dev": rates(dev, chosen),
        "test": rates(test, chosen),
        "test_at_default": rates(test, DEFAULT_THRESHOLD),
        "sweep_dev": [rates(dev, t) for t in GRID],
    }
    if not args.json:
        for r in sorted(rows, key=lambda r: (r["split"], r["probability"] or 0.0)):
            mark = "ok   " if r["right"] else "WRONG"
            p = "-" if r["probability"] is None else f"{r['probability']:.3f}"
            odd = " implausible" if r.get("implausible") else ""
            print(f"{r['split']:4s} {mark} p={p}{odd} {r['number']:>12s}  {r['id']}: {r['final']}")
        for t in GRID:
            d, s = rates(dev, t), rates(test, t)
            print(f"t={t:.2f} dev wrong {d['wrong_flagged']}/{d['wrong']} right {d['right_flagged']}/{d['right']}"
                  f"   test wrong {s['wrong_flagged']}/{s['wrong']} right {s['right_flagged']}/{s['right']}")
    print(json.dumps(summary, ensure_ascii=False))
    return 0
