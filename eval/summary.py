"""``python -m eval summary --calls calls.jsonl [--kb kb.jsonl] [--json]``: after-call notes quality.

For each call (its text turns; the articles are its ``expected`` FAQ ids looked up in the knowledge base):
fact coverage (share of the call's ``facts`` found in the notes, numbers compared as values), invented
numbers (in unflagged note lines, not in the transcript), promises listed as done (the call's optional
``promises`` found in the actions) and latency. The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from config import load_settings
from eval.callset import SPLIT_KB, SPLIT_TEXT_CALLS, SPLITS, in_split
from eval.stats import percentile
from summarize.base import ArticleRef, Turn
from summarize.factcheck import grounded_numbers
from summarize.factory import build_summarizer
from summarize.masking import Masker
from summarize.notes import CallNotes
from summarize.numbers import canonical_text, number_values
from summarize.uncertain import unmark


class DataError(ValueError):
    """A data file is missing or malformed (names the file and line)."""


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{n}: invalid JSON: {exc.msg}") from exc
    return rows


def _turns(call: dict[str, Any], where: str) -> list[Turn]:
    try:
        turns = [Turn(i, t["speaker"], str(t["text"])) for i, t in enumerate(call["turns"])]
    except (KeyError, TypeError) as exc:
        raise DataError(f"{where}: each call needs id and turns of speaker + text ({exc})") from exc
    if any(t.speaker not in ("customer", "agent") for t in turns):
        raise DataError(f"{where}: speaker must be 'customer' or 'agent'")
    return turns


def _articles(call: dict[str, Any], kb: dict[str, dict[str, Any]]) -> list[ArticleRef]:
    """The expected articles, each tied to the first turn expecting it (as the session ties its top cards)."""
    first: dict[str, int] = {}
    for turn, ids in sorted(call.get("expected", {}).items(), key=lambda kv: int(kv[0])):
        for i in ids:
            first.setdefault(i, int(turn))
    return [ArticleRef(i, kb[i]["title"], kb[i].get("category"), turn=t) for i, t in first.items() if i in kb]


def _lines(notes: CallNotes) -> list[str]:
    """The unflagged lines' texts, without their 要確認 marks (a number marked uncertain is still in the notes)."""
    lines = [*notes.inquiry, *notes.actions, *notes.follow_ups]
    if notes.result_line is not None:
        lines.append(notes.result_line)
    return [unmark(line.text) for line in lines if not line.flagged]


def invented_numbers(notes: CallNotes, turns: list[Turn], articles: list[ArticleRef], lang: str) -> list[str]:
    """Numbers in the unflagged note lines that neither ``turns`` nor a cited title contains."""
    allowed = grounded_numbers(turns, lang, [a.title for a in articles])
    return sorted({v for t in _lines(notes) for v in number_values(t, lang)} - allowed)


def score_call(call: dict[str, Any], notes: CallNotes, turns: list[Turn],
               articles: list[ArticleRef]) -> dict[str, Any]:
    lang = call.get("language", "ja")
    texts = _lines(notes)
    entities = [*notes.entities, *notes.to_confirm]
    shown = canonical_text("\n".join([*texts, *(e.text for e in entities), notes.disposition or ""]), lang)
    facts = call.get("facts", [])
    missing = [f for f in facts if canonical_text(f, lang) not in shown]
    invented = invented_numbers(notes, turns, articles, lang)
    actions = canonical_text("\n".join(line.text for line in notes.actions), lang)
    as_done = [p for p in call.get("promises", []) if canonical_text(p, lang) in actions]
    return {"id": call["id"], "status": notes.status, "backend": notes.backend,
            "fact_coverage": 1.0 - len(missing) / len(facts) if facts else 1.0, "missing_facts": missing,
            "invented_numbers": invented, "promised_as_done": as_done, "result": notes.result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval summary", description=__doc__)
    parser.add_argument("--calls", type=Path, help="calls.jsonl (default: eval/data/calls.jsonl; with --split the "
                        "committed call set, calls_v2.jsonl too)")
    parser.add_argument("--split", choices=SPLITS, help="Only the calls of this split (tune on dev, report test)")
    parser.add_argument("--kb", type=Path, action="append", help="Knowledge base file (repeatable; default: kb.jsonl "
                        "beside --calls; with --split: kb.jsonl + kb_extra.jsonl)")
    parser.add_argument("--config", type=Path, default=None, help="Settings TOML (summarize.backend etc.)")
    parser.add_argument("--json", action="store_true", help="Print each call's notes as a JSON line")
    args = parser.parse_args(argv)

    try:
        call_set = args.split is not None and args.calls is None
        paths = list(SPLIT_TEXT_CALLS) if call_set else [args.calls or SPLIT_TEXT_CALLS[0]]
        calls = [c for p in paths for c in _read_jsonl(p) if in_split(c, args.split)]
        kb_paths = list(args.kb) if args.kb else list(SPLIT_KB) if call_set else [paths[0].with_name("kb.jsonl")]
        kb = {a["id"]: a for p in kb_paths if args.kb or call_set or p.is_file() for a in _read_jsonl(p)}
        turns_of = [_turns(c, f"call {c.get('id', i)}") for i, c in enumerate(calls)]
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = load_settings(args.config)
    summarizer = build_summarizer(settings.summarize, Masker(settings.privacy.mask_entities))
    rows, latencies = [], []
    for call, turns in zip(calls, turns_of, strict=True):
        lang = call.get("language", "ja")
        articles = _articles(call, kb)
        started = time.perf_counter()
        notes = summarizer.summarize(turns, language=lang, articles=articles)
        latencies.append((time.perf_counter() - started) * 1000)
        row = score_call(call, notes, turns, articles)
        rows.append(row)
        if args.json:
            print(json.dumps({"id": call["id"], "notes": notes.model_dump()}, ensure_ascii=False))
        else:
            print(f"{row['id']:<22} coverage {row['fact_coverage']:.2f}  result {row['result']:<9} "
                  f"invented {row['invented_numbers'] or '-'}  as_done {row['promised_as_done'] or '-'}  "
                  f"missing {row['missing_facts'] or '-'}  {latencies[-1]:.1f} ms")
    summary = {
        "fact_coverage": round(float(np.mean([r["fact_coverage"] for r in rows])), 4) if rows else 0.0,
        "invented_numbers": sum(len(r["invented_numbers"]) for r in rows),
        "promised_as_done": sum(len(r["promised_as_done"]) for r in rows),
        "latency_ms_p95": percentile(latencies, 95, digits=2) or 0.0,
        "n": len(rows),
        "backend": summarizer.name,
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0
