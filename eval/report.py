"""``python -m eval report --out DIR``: every evaluation on the dev sets, as one self-contained HTML page.

Runs the ASR, retrieval and summary evaluations (each its own ``python -m eval`` process, so their models
are freed in between) and the end-to-end call replay, then writes ``DIR/index.html`` (figures embedded as
base64 PNG) and ``DIR/report.json`` (every figure the page shows). The last stdout line is the headline JSON.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from common.db import is_postgres
from config import Settings, load_settings
from eval import plots
from eval.alertscore import CHECKLIST_TARGET, alert_rows
from eval.calls import run_calls, text_summary
from eval.callscore import CallResult
from eval.callset import (
    CALM_BAIT_CALLS,
    ESCALATION_CALLS,
    SPLIT_TEXT_CALLS,
    read_calls,
    read_split,
    timeline,
    turn_audio,
)
from eval.report_html import render

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "eval" / "data"
TARGETS: dict[str, tuple[str, float]] = {
    "hit@3": ("min", 0.9),
    "suggestion_latency_s_p95": ("max", 2.5),
    "fact_coverage": ("min", 0.9),
    "invented_numbers": ("max", 0),
    "ungrounded_numbers": ("max", 0),
    "wrong_numbers_stated": ("max", 0),  # numbers never said stated as fact (those flagged 要確認 are not)
}
ALERT_TARGETS: dict[str, tuple[str, float]] = {  # issue 16, on the scripted escalations and the calm calls
    "alert_on_time_rate": ("min", 1.0),
    "false_alerts_calm": ("max", 0),
    "checklist_accuracy": ("min", CHECKLIST_TARGET),
}


@dataclass
class Section:
    """One evaluation's results: its command, headline JSON and its other output lines."""

    name: str
    command: list[str]
    metrics: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


def run_eval(name: str, args: list[str], timeout_s: float = 1200.0) -> Section:
    """``python -m eval NAME ARGS``; its last stdout line is the headline JSON."""
    section = Section(name, ["python", "-m", "eval", name, *args])
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "eval", name, *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        section.error = f"timed out after {timeout_s:.0f} s"
        return section
    section.seconds = round(time.monotonic() - started, 1)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        section.error = f"exit {proc.returncode}: " + "\n".join(proc.stderr.splitlines()[-8:])
        return section
    try:
        section.metrics = json.loads(lines[-1])
    except json.JSONDecodeError:
        section.error = f"last line is not JSON: {lines[-1][:200]}"
    section.lines = lines[:-1]
    return section


def retrieval_ranks(section: Section, queries: Path, kb: Path) -> tuple[list[int | None], list[str], list[dict]]:
    """Per answerable query: rank of the first relevant article in the top 3 (None = miss) and its group.

    ``--show-misses`` lists every query whose relevant article was not first, with the top 3 it got."""
    misses = {}
    for line in section.lines:
        if line.startswith("{"):
            row = json.loads(line)
            misses[row["id"]] = row
    categories = {r["id"]: r.get("category") or "-" for r in _jsonl(kb)}
    ranks, labels = [], []
    for q in _jsonl(queries):
        if not q.get("relevant"):
            continue
        miss = misses.get(q["id"])
        got = miss["got"] if miss else []
        rank = 1 if miss is None else next((i + 1 for i, a in enumerate(got) if a in q["relevant"]), None)
        ranks.append(rank)
        labels.append(f"{q.get('language', 'ja')} · {categories.get(q['relevant'][0], '-')}")
    worst = [m for m in misses.values() if not set(m["expected"]) & set(m["got"][:3])]
    return ranks, labels, worst


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def worst_call_misses(results: list[CallResult], limit: int = 10) -> list[dict[str, Any]]:
    """Expected cards that never showed in their turn's top 3, then the slowest cards."""
    rows = []
    for r in results:
        for t in r.turns:
            if t.expected and not t.hit3:
                rows.append({"call": r.id, "turn": t.index, "why": "expected card not in the top 3",
                             "expected": t.expected, "suggested": [a for a, _ in t.suggested],
                             "reference": t.reference, "transcript": t.hypothesis,
                             "latency_s": t.suggestion_latency_s})
    slow = sorted(((r, t) for r in results for t in r.turns if t.suggestion_latency_s is not None),
                  key=lambda rt: -(rt[1].suggestion_latency_s or 0.0))
    for r, t in slow[: max(0, limit - len(rows))]:
        rows.append({"call": r.id, "turn": t.index, "why": "slowest cards", "expected": t.expected,
                     "suggested": [a for a, _ in t.suggested], "reference": t.reference,
                     "transcript": t.hypothesis, "latency_s": t.suggestion_latency_s})
    return rows[:limit]


def knowledge_gaps(target: str | Path, settings: Settings) -> dict[str, Any] | None:
    """The knowledge-gap report (``assist.insights_report.gap_report``) of the last 30 days of a calls database;
    ``None`` when there is no such database."""
    if not is_postgres(target) and not Path(target).exists():
        return None
    from assist.insights_report import date_range, gap_report
    from assist.store import CallStore
    from models import ModelRegistry
    from retrieval.embedders import build_embedder

    embedder = build_embedder(settings.retrieval, ModelRegistry(settings.models_dir),
                              allow_downloads=settings.allow_downloads)
    embedder.load()
    store = CallStore(target)
    try:
        gaps = gap_report(store, embedder, *date_range(None, None))
    finally:
        store.close()
    return {**gaps, "source": "PostgreSQL" if is_postgres(target) else str(target)}


def alert_section(settings: Settings, split: str = "dev") -> dict[str, Any]:
    """Alerts and checklists (``eval calls --text``): the escalations and calm calls of ``split`` as text, with the
    embedder's paraphrases as the service runs them."""
    from eval.textreplay import run_text_calls

    calls = read_split([*SPLIT_TEXT_CALLS, ESCALATION_CALLS, CALM_BAIT_CALLS], split)
    started = time.monotonic()
    results = run_text_calls(calls, settings, concurrency=len(calls), paraphrase=True)
    summary = text_summary(results, concurrency=len(calls), speed=1.0, paraphrase=True)
    return {"command": f"python -m eval calls --text --split {split} --paraphrase --concurrency {len(calls)}",
            "seconds": round(time.monotonic() - started, 1), "summary": summary,
            "verdicts": verdicts(summary, ALERT_TARGETS),
            "targets": {k: {"kind": kind, "limit": limit} for k, (kind, limit) in ALERT_TARGETS.items()},
            **alert_rows(calls, [r.alerts for r in results])}


def verdicts(headline: dict[str, Any], targets: dict[str, tuple[str, float]] = TARGETS) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {}
    for metric, (kind, limit) in targets.items():
        value = headline.get(metric)
        out[metric] = None if value is None else (value >= limit if kind == "min" else value <= limit)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval report", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for index.html and report.json")
    parser.add_argument("--kb", type=Path, default=DATA / "kb.jsonl")
    parser.add_argument("--calls", type=Path, default=DATA / "calls_audio" / "calls_audio.jsonl")
    parser.add_argument("--queries", type=Path, default=DATA / "queries.jsonl")
    parser.add_argument("--manifest", type=Path, default=DATA / "asr" / "manifest.jsonl")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--limit", type=int, help="replay only the first K calls")
    parser.add_argument("--skip", nargs="+", default=[],
                        choices=("asr", "retrieval", "summary", "calls", "alerts", "gaps"))
    parser.add_argument("--gaps-from", help="calls database (file or postgresql:// URL) whose last 30 days' knowledge "
                        "gaps the report shows; default: the configured one, when it exists")
    parser.add_argument("--config", type=Path, help="settings TOML")
    args = parser.parse_args(argv)

    console = Console(stderr=True)
    settings = load_settings(args.config)
    config = ["--config", str(args.config)] if args.config else []
    sections: dict[str, Section] = {}
    steps = [("asr", ["--manifest", str(args.manifest), "--kb", str(args.manifest.with_name("kb.jsonl")),
                      "--json", *config]),
             ("retrieval", ["--kb", str(args.kb), "--queries", str(args.queries), "--show-misses", *config]),
             ("summary", ["--calls", str(DATA / "calls.jsonl"), "--kb", str(args.kb), *config])]
    steps = [s for s in steps if s[0] not in args.skip]
    results: list[CallResult] = []
    spans: dict[str, Any] = {}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        task = progress.add_task("evaluations", total=len(steps) + ("calls" not in args.skip)
                                 + ("alerts" not in args.skip))
        for name, step_args in steps:
            progress.update(task, description=f"{name} …")
            sections[name] = run_eval(name, step_args)
            progress.advance(task)
        if "calls" not in args.skip:
            progress.update(task, description=f"calls (x{args.concurrency}, real time) …")
            calls = read_calls(args.calls, args.limit)
            started = time.monotonic()
            results, headline = run_calls(calls, settings, kb=args.kb, concurrency=args.concurrency,
                                          config=args.config, progress=True)
            section = Section("calls", ["python", "-m", "eval", "calls", "--kb", str(args.kb), "--calls",
                                        str(args.calls), "--concurrency", str(args.concurrency)], headline)
            section.seconds = round(time.monotonic() - started, 1)
            sections["calls"] = section
            spans = {c.id: timeline(c, turn_audio(c)).spans for c in calls}
            progress.advance(task)
        alerts = None
        if "alerts" not in args.skip:
            progress.update(task, description="alerts (escalations and calm calls as text, real time) …")
            alerts = alert_section(settings)
            progress.advance(task)

    figures: dict[str, bytes] = {}
    worst_queries: list[dict] = []
    if "retrieval" in sections and not sections["retrieval"].error:
        ranks, labels, worst_queries = retrieval_ranks(sections["retrieval"], args.queries, args.kb)
        figures["query_ranks"] = plots.query_ranks(ranks, labels)
    if results:
        figures["latency"] = plots.latency_distributions(results, TARGETS["suggestion_latency_s_p95"][1])
        figures["timelines"] = plots.call_timelines(results, spans)
        figures["per_call"] = plots.per_call_bars(results)
    headline = sections["calls"].metrics if "calls" in sections else {}
    report = {
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "headline": headline,
        "verdicts": verdicts(headline),
        "targets": {k: {"kind": kind, "limit": limit} for k, (kind, limit) in TARGETS.items()},
        "sections": {n: {"command": " ".join(s.command), "metrics": s.metrics, "seconds": s.seconds,
                         "error": s.error} for n, s in sections.items()},
        "calls": [r.to_dict() for r in results],
        "worst_call_misses": worst_call_misses(results),
        "worst_query_misses": worst_queries,
        "alerts": alerts,
        "kb_gaps": None if "gaps" in args.skip else knowledge_gaps(args.gaps_from or settings.calls_db, settings),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    images = {k: base64.b64encode(v).decode("ascii") for k, v in figures.items()}
    (args.out / "index.html").write_text(render(report, images), encoding="utf-8")
    console.print(f"report written to {args.out / 'index.html'}")
    for name, section in sections.items():
        if section.error:
            console.print(f"[red]{name} failed:[/red] {section.error}")
    print(json.dumps({**headline, "sections_failed": [n for n, s in sections.items() if s.error]},
                     ensure_ascii=False))
    return 1 if any(s.error for s in sections.values()) else 0
