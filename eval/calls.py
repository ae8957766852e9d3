"""``python -m eval calls --kb KB.jsonl --calls calls.jsonl [--concurrency N] [--url ws://…] [--json] [--limit K]``

End-to-end replay: every call's turns are streamed on their legs at real-time pace (0.6 s between
turns) into the real service — a fresh one started on ``--kb`` in a temporary home, or the one at
``--url`` — N calls at once, and scored from the events the widget would see: transcript CER/WER,
suggestion hit@1/hit@3, speech end → first suggestion and → final transcript, notes fact coverage,
invented numbers and how long the notes took after hang-up. Turns without ``audio`` are synthesized
(the ``tts`` extra). The last line of stdout is one JSON object with the headline figures.
``--split dev|test`` replays one split of the committed call set (``eval/callset.py``) over ``kb.jsonl`` +
``kb_extra.jsonl`` unless ``--calls``/``--kb`` say otherwise.
Every run also scores the calls' ``alert`` and ``checklist`` events (``eval/alertscore.py``). ``--text`` replays the
calls' text instead (``eval/textreplay.py``: scripted finals at the turns' times through an in-process service, no
speech model), which is how the scripted escalations (``eval/data/escalations.jsonl``, joined to the calls of
``--split``) are measured; its summary holds the alert and checklist figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from assist.replay import replay_call
from config import Settings, load_settings
from eval.alertscore import summarize as alert_summary
from eval.callscore import CallResult, NotesScorer, Received, aggregate, score_call
from eval.callset import (
    CALM_BAIT_CALLS,
    ESCALATION_CALLS,
    SPLIT_AUDIO_CALLS,
    SPLIT_TEXT_CALLS,
    SPLITS,
    CallSpec,
    read_split,
    replay_turns,
    split_kb,
    timeline,
    turn_audio,
)
from eval.server import running_server

_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]+")


def load_audio(calls: Sequence[CallSpec], progress: bool = True) -> dict[str, list[np.ndarray]]:
    """Each call's turn audio (read, or synthesized when a turn has none)."""
    return {c.id: turn_audio(c) for c in tqdm(calls, desc="audio", file=sys.stderr, disable=not progress,
                                               leave=False)}


async def replay_all(
    url: str,
    calls: Sequence[CallSpec],
    audio: dict[str, list[np.ndarray]],
    *,
    concurrency: int = 1,
    notes_scorer: NotesScorer | None = None,
    progress: bool = True,
) -> list[CallResult]:
    """Replay ``calls`` against ``url``, ``concurrency`` at a time; results in the calls' order."""
    gate = asyncio.Semaphore(max(1, concurrency))
    bar = tqdm(total=len(calls), desc=f"calls x{concurrency}", file=sys.stderr, disable=not progress, leave=False)

    async def one(call: CallSpec) -> CallResult:
        async with gate:
            received: list[Received] = []
            line = timeline(call, audio[call.id])
            await replay_call(
                url,
                f"{_UNSAFE.sub('-', call.id)[:100]}.{uuid.uuid4().hex[:6]}",
                turns=replay_turns(call, audio[call.id]),
                language=call.language,
                on_event=lambda e: received.append((time.monotonic(), e)),
                timeout_s=line.duration + 180.0,
            )
            bar.update()
            return score_call(call, line, received, notes_scorer)

    try:
        return list(await asyncio.gather(*(one(c) for c in calls)))
    finally:
        bar.close()


def notes_scorer(kb: Path | None = None) -> NotesScorer:
    """Fact coverage and invented numbers, scored as ``python -m eval summary`` scores them: against what
    was said (the script, not the ASR text) and the titles of the call's expected articles."""
    from eval.summary import invented_numbers
    from eval.summary import score_call as score_notes
    from summarize.base import ArticleRef, Turn
    from summarize.notes import CallNotes

    titles: dict[str, dict[str, Any]] = {}
    if kb is not None and kb.suffix == ".jsonl":
        rows = [json.loads(line) for line in kb.read_text(encoding="utf-8").splitlines() if line.strip()]
        titles = {r["id"]: r for r in rows}

    def score(call: CallSpec, notes: dict[str, Any], heard: Sequence[str]) -> tuple[float, list[str], list[str],
                                                                                 list[str]]:
        said = [Turn(t.index, t.speaker, t.text) for t in call.turns]
        ids = dict.fromkeys(i for ids in call.expected.values() for i in ids)
        articles = [ArticleRef(i, titles[i]["title"], titles[i].get("category")) for i in ids if i in titles]
        parsed = CallNotes.model_validate(notes)
        row = score_notes({"id": call.id, "language": call.language, "facts": call.facts}, parsed, said, articles)
        transcript = [Turn(t.index, t.speaker, text) for t, text in zip(call.turns, heard, strict=True)]
        ungrounded = invented_numbers(parsed, transcript, articles, call.language)
        return round(float(row["fact_coverage"]), 4), list(row["missing_facts"]), list(row["invented_numbers"]), ungrounded

    return score


def run_calls(
    calls: Sequence[CallSpec],
    settings: Settings,
    *,
    kb: Path | None = None,
    url: str | None = None,
    concurrency: int = 1,
    config: Path | None = None,
    progress: bool = True,
) -> tuple[list[CallResult], dict[str, Any]]:
    """Replay against ``url``, or against a fresh server on ``kb``; returns per-call results and the headline."""
    audio = load_audio(calls, progress)
    scorer = notes_scorer(kb)

    def replay(target: str) -> list[CallResult]:
        return asyncio.run(replay_all(target, calls, audio, concurrency=concurrency, notes_scorer=scorer,
                                      progress=progress))

    if url is not None:
        results = replay(url)
    else:
        if kb is None:
            raise ValueError("give a knowledge base (kb) or the URL of a running server")
        with running_server(kb, settings, config=config) as target:
            results = replay(target)
    summary = aggregate(results)
    summary["concurrency"] = concurrency
    return results, summary


def format_call(result: CallResult) -> str:
    hits = [t for t in result.turns if t.expected]
    sugg = [t.suggestion_latency_s for t in result.turns if t.suggestion_latency_s is not None]
    cov = "-" if result.fact_coverage is None else f"{result.fact_coverage:.2f}"
    return (f"{result.id:28s} {result.language} {result.metric}={result.error_rate}  "
            f"hit@1={sum(bool(t.hit1) for t in hits)}/{len(hits)} hit@3={sum(bool(t.hit3) for t in hits)}/{len(hits)}  "
            f"pushes={sum(p.top_expected for p in result.pushes)}/{len(result.pushes)} top-right, "
            f"{sum(p.junk for p in result.pushes)} junk  "
            f"sugg={'/'.join(f'{s:.2f}' for s in sugg) or '-'}s  facts={cov} invented={result.invented_numbers} "
            f"(stated {len(result.wrong_stated)}, flagged {len(result.wrong_flagged)})  "
            f"notes={result.summary_latency_s}s" + (f"  errors={','.join(result.errors)}" if result.errors else ""))


def format_alerts(result: CallResult) -> str:
    """One call's alerts: expected ones raised (with their delay) or missed, then the false ones."""
    a = result.alerts
    if a is None:
        return f"{result.id:28s} {result.language} no call_started"
    expected = " ".join(f"{c.label}@{c.turn}=" + (f"{c.delay_s:.2f}s" if c.raised else "MISSED") for c in a.checks)
    false = " ".join(f"{f.rule}/{f.category}@{f.turn}" if f.category else f"{f.rule}@{f.turn}"
                     for f in a.false_alerts)
    extra = " ".join(f"{f.rule}/{f.category}@{f.turn}" if f.category else f"{f.rule}@{f.turn}"
                     for f in a.extra_alerts)
    wrong = [i.id for i in a.checklist if not i.correct]
    checklist = f"  checklist {len(a.checklist) - len(wrong)}/{len(a.checklist)}" if a.checklist else ""
    return (f"{result.id:28s} {result.language} {expected or 'calm'}" + (f"  FALSE: {false}" if false else "")
            + (f"  extra: {extra}" if extra else "") + checklist + (f" wrong: {','.join(wrong)}" if wrong else ""))


def text_summary(results: Sequence[CallResult], *, concurrency: int, speed: float, paraphrase: bool
                 ) -> dict[str, Any]:
    """The JSON summary of a text replay: alerts and checklists only (no audio, no real retrieval)."""
    return {"mode": "text", "n_calls": len(results), **alert_summary([r.alerts for r in results]),
            "errors": sorted({c for r in results for c in r.errors}), "concurrency": concurrency, "speed": speed,
            "paraphrase": paraphrase}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval calls", description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, help="knowledge base (jsonl/csv) for the server this command starts")
    parser.add_argument("--calls", type=Path, help="calls.jsonl (GUIDE.md format); default with --split: the call set")
    parser.add_argument("--split", choices=SPLITS, help="only the calls of this split (tune on dev, report test)")
    parser.add_argument("--concurrency", type=int, default=1, help="calls replayed at once")
    parser.add_argument("--url", help="ws:// base URL of a running server (then --kb is not used)")
    parser.add_argument("--limit", type=int, help="only the first K calls")
    parser.add_argument("--json", action="store_true", help="print only the JSON summary")
    parser.add_argument("--details", type=Path, help="write every call's turns, events' scores and notes here")
    parser.add_argument("--config", type=Path, help="settings TOML (also passed to the server)")
    parser.add_argument("--text", action="store_true", help="replay the turns' text as finals (alerts, checklists; "
                        "no speech model); with --split, the escalation calls join the text calls")
    parser.add_argument("--speed", type=float, default=1.0, help="--text: play the calls this many times faster")
    parser.add_argument("--paraphrase", action="store_true", help="--text: load the embedder for the abuse "
                        "paraphrases (the service does; off: the lexicon rules only)")
    args = parser.parse_args(argv)
    if args.calls is None and args.split is None:
        parser.error("give --calls, or --split for the committed call set")
    settings = load_settings(args.config)
    if args.text:
        from assist.alerts.rules import AlertRulesError
        from eval.textreplay import run_text_calls

        if args.speed <= 0:
            parser.error("--speed must be positive")
        paths = [args.calls] if args.calls else [*SPLIT_TEXT_CALLS, ESCALATION_CALLS, CALM_BAIT_CALLS]
        calls = read_split(paths, args.split, args.limit)
        try:
            results = run_text_calls(calls, settings, concurrency=args.concurrency, speed=args.speed,
                                     paraphrase=args.paraphrase)
        except AlertRulesError as exc:  # the configured rules file: every problem with its line
            parser.exit(2, f"{exc.code}: {exc.describe()}\n")
        if args.details:
            args.details.write_text(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=1),
                                    encoding="utf-8")
        if not args.json:
            for result in results:
                print(format_alerts(result))
        print(json.dumps(text_summary(results, concurrency=args.concurrency, speed=args.speed,
                                      paraphrase=args.paraphrase), ensure_ascii=False))
        return 0
    if args.url is None and args.kb is None and args.split is None:
        parser.error("give --kb (a server is started) or --url (a running server)")

    calls = read_split([args.calls] if args.calls else SPLIT_AUDIO_CALLS, args.split, args.limit)
    kb = args.kb or (split_kb() if args.url is None else None)
    results, summary = run_calls(calls, settings, kb=kb, url=args.url, concurrency=args.concurrency,
                                 config=args.config, progress=not args.json)
    if args.details:
        args.details.write_text(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=1),
                                encoding="utf-8")
    if not args.json:
        for result in results:
            print(format_call(result))
            if result.alerts is not None and (result.alerts.raised or result.alerts.checks):
                print("  alerts: " + format_alerts(result).split(maxsplit=2)[-1])
    print(json.dumps(summary, ensure_ascii=False))
    return 0
