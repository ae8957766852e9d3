# ruff: noqa: T201  (a command-line module: results go to stdout)
"""``assist calls qa-export`` (per-call QA metrics of a date range, CSV) and ``assist kb gaps`` (customer
requests the knowledge base failed, grouped by meaning, largest first)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from assist.insights_report import RangeError, date_range, gap_report, qa_csv
from config import Settings

_RANGE_HELP = "a date (2025-04-01, a whole day as --until), an ISO date-time or Unix seconds"


def register_qa_export(calls_sub: Any) -> None:
    p = calls_sub.add_parser("qa-export", help="Per-call QA metrics of the calls started in a date range, as CSV")
    p.add_argument("--since", help=f"From ({_RANGE_HELP}); default: 30 days before --until")
    p.add_argument("--until", help=f"Up to, exclusive ({_RANGE_HELP}); default: now")
    p.add_argument("--out", "-o", type=Path, help="CSV file (default: stdout)")
    p.set_defaults(handler=_qa_export)


def register_gaps(kb_sub: Any) -> None:
    p = kb_sub.add_parser("gaps", help="Customer requests that got no card, low-confidence cards or dismissed "
                          "ones, grouped by meaning, largest first")
    p.add_argument("--since", help=f"From ({_RANGE_HELP}); default: 30 days before --until")
    p.add_argument("--until", help=f"Up to, exclusive ({_RANGE_HELP}); default: now")
    p.add_argument("--threshold", type=float, help="Cosine a request needs to join a group (default: the "
                   "embedder's measured value)")
    p.add_argument("--limit", type=int, default=2000, help="Newest failed requests grouped")
    p.add_argument("--examples", type=int, default=3, help="Example utterances shown per group (text output)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_gaps)


def _range(args: argparse.Namespace) -> tuple[float, float] | None:
    try:
        return date_range(args.since, args.until)
    except RangeError as exc:
        print(f"assist: error [{exc.code}]: {exc.message}", file=sys.stderr)
        return None


def _qa_export(args: argparse.Namespace, settings: Settings) -> int:
    from assist.store import CallStore

    bounds = _range(args)
    if bounds is None:
        return 2
    store = CallStore(settings.calls_db)
    try:
        text = qa_csv(store, *bounds)
    finally:
        store.close()
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        print(f"{text.count(chr(10)) - 1} call(s) written to {args.out}", file=sys.stderr)
    return 0


def _gaps(args: argparse.Namespace, settings: Settings) -> int:
    from assist.store import CallStore
    from models import ModelRegistry
    from retrieval.embedders import build_embedder

    bounds = _range(args)
    if bounds is None:
        return 2
    embedder = build_embedder(settings.retrieval, ModelRegistry(settings.models_dir),
                              allow_downloads=settings.allow_downloads)
    embedder.load()
    store = CallStore(settings.calls_db)
    try:
        report = gap_report(store, embedder, *bounds, threshold=args.threshold, limit=args.limit)
    finally:
        store.close()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return 0
    print(f"{report['gaps']} of {report['requests']} request(s) failed the knowledge base in "
          f"{_day(report['since'])} … {_day(report['until'])}; {len(report['clusters'])} group(s), largest first")
    for n, c in enumerate(report["clusters"], start=1):
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(c["reasons"].items()))
        print(f"\n{n}. {c['label']}\n   {c['calls']} call(s), {c['size']} request(s), last {_day(c['last_ts'])}"
              f" ({reasons})" + (f"; cards it got: {', '.join(c['articles'])}" if c["articles"] else ""))
        for example in c["examples"][: args.examples]:
            print(f"   - {example['text']}  [{example['call_id']}]")
    return 0


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")
