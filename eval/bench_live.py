"""``python -m eval bench-live --calls 2``: concurrent live calls against a real server, in real time.

Each call of ``calls.jsonl`` is replayed (turn audio, or synthesized speech) on both legs in real time,
N calls at once, into a fresh ``assist serve`` process. For every customer turn we measure, on the
client's clock, the time from the end of the turn's speech to the first ``suggestions`` event that
follows it (and to its final transcript), and report p50 / p95 against the targets. For every turn of
either leg, ``client_final_*`` also takes the client's reference point: from the moment the frame holding
the turn's last speech sample was sent to the arrival of the final covering the turn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from asr.audio import SAMPLE_RATE
from assist.replay import FRAME_MS, replay_call
from config import load_settings
from eval.callset import CallSpec, Timeline, read_calls, replay_turns, timeline, turn_audio
from eval.server import running_server
from eval.stats import percentile

DATA = Path(__file__).parent / "data"
TARGET_P50_S = 1.5
TARGET_P95_S = 2.5


def turn_latencies(events: list[tuple[float, dict[str, Any]]], t0: float, tl: Timeline) -> dict[str, list[float]]:
    """Per customer turn: speech end -> first final transcript / first suggestions after it."""
    out: dict[str, list[float]] = {"final": [], "suggestions": [], "server_suggestions": [],
                                   "final_to_suggestions": []}
    customer = [s for s in tl.spans if s.speaker == "customer"]
    for span in customer:
        end_wall = t0 + span.speech_end
        window_end = tl.next_customer_start(span.index)
        limit = t0 + window_end if window_end is not None else float("inf")
        for kind in ("final", "suggestions"):
            for arrived, e in events:
                is_kind = (e["type"] == "transcript" and e["final"] and e["leg"] == "customer") if kind == "final" \
                    else e["type"] == "suggestions"
                if is_kind and end_wall - 0.3 <= arrived < limit:
                    out[kind].append(max(0.0, arrived - end_wall))
                    if kind == "suggestions" and e.get("speech_to_suggestion_ms") is not None:
                        out["server_suggestions"].append(e["speech_to_suggestion_ms"] / 1000)
                    break
    finals: dict[str, float] = {}
    for t, e in events:  # the first final of an utterance (a masking correction may repeat it)
        if e["type"] == "transcript" and e["final"]:
            finals.setdefault(e["utterance_id"], t)
    out["final_to_suggestions"] = [t - finals[e["utterance_id"]] for t, e in events
                                   if e["type"] == "suggestions" and e["utterance_id"] in finals]
    return out


def client_final_latencies(events: list[tuple[float, dict[str, Any]]], sent: dict[int, float],
                           tl: Timeline) -> list[float | None]:
    """Per turn (both legs): send of the frame holding its last speech sample -> first arrival of the final
    covering it (the latest-ending final of its leg that overlaps its speech); ``None`` if none covers it."""
    first: dict[str, tuple[float, dict[str, Any]]] = {}
    for t, e in events:
        if e["type"] == "transcript" and e["final"]:
            first.setdefault(e["utterance_id"], (t, e))
    frame = SAMPLE_RATE * FRAME_MS // 1000
    out: list[float | None] = []
    for span in tl.spans:
        covering = [(e["end"], t) for t, e in first.values()
                    if e["leg"] == span.speaker and e["start"] < span.speech_end + 0.3 and e["end"] > span.speech_start]
        sent_at = sent.get((round(span.speech_end * SAMPLE_RATE) - 1) // frame)
        out.append(max(covering)[1] - sent_at if covering and sent_at is not None else None)
    return out


async def run_call(url: str, call: CallSpec, audio: list[np.ndarray], tag: str) -> dict[str, Any]:
    received: list[tuple[float, dict[str, Any]]] = []
    t0: list[float] = []
    sent: dict[int, float] = {}
    events = await replay_call(url, f"bench-{tag}-{call.id}", turns=replay_turns(call, audio), language=call.language,
                               stereo=True, on_event=lambda e: received.append((time.monotonic(), e)),
                               on_audio_start=lambda: t0.append(time.monotonic()), timeout_s=900,
                               on_frame_sent=sent.__setitem__)
    tl = timeline(call, audio)
    lat = turn_latencies(received, t0[0] if t0 else 0.0, tl)
    client = client_final_latencies(received, sent, tl)
    errors = [e for e in events if e["type"] == "error"]
    return {"call": call.id, "customer_turns": sum(1 for s in tl.spans if s.speaker == "customer"),
            "duration_s": round(tl.duration, 1), "errors": [e["code"] for e in errors], **lat,
            "turns": len(client), "client_final": [v for v in client if v is not None]}


async def bench(url: str, calls: list[CallSpec], audio: list[list[np.ndarray]]) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(run_call(url, c, a, str(i)) for i, (c, a) in enumerate(zip(calls, audio,
                                                                                                    strict=True)))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval bench-live", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2, help="Concurrent calls")
    parser.add_argument("--calls-file", type=Path, default=DATA / "calls.jsonl")
    parser.add_argument("--kb", type=Path, default=DATA / "kb.jsonl")
    parser.add_argument("--language", default="ja", help="Only calls in this language")
    parser.add_argument("--max-turns", type=int, default=8, help="Replay the first N turns of each call")
    parser.add_argument("--config", type=Path, help="Server settings (TOML)")
    parser.add_argument("--json", type=Path, help="Also write the results here")
    args = parser.parse_args(argv)

    specs = [c for c in read_calls(args.calls_file) if c.language == args.language][: args.calls]
    if len(specs) < args.calls:
        print(f"only {len(specs)} {args.language} calls in {args.calls_file}")
        return 2
    specs = [CallSpec(c.id, c.language, c.turns[: args.max_turns], c.expected, c.facts) for c in specs]
    audio = [turn_audio(c) for c in specs]
    settings = load_settings(args.config)
    with running_server(args.kb, settings, config=args.config) as url:
        started = time.monotonic()
        results = asyncio.run(bench(url, specs, audio))
        wall = time.monotonic() - started

    sugg = [v for r in results for v in r["suggestions"]]
    finals = [v for r in results for v in r["final"]]
    server = [v for r in results for v in r["server_suggestions"]]
    f2s = [v for r in results for v in r["final_to_suggestions"]]
    client = [v for r in results for v in r["client_final"]]
    turns = sum(r["customer_turns"] for r in results)
    summary = {
        "calls": args.calls, "customer_turns": turns, "turns_with_suggestions": len(sugg), "wall_s": round(wall, 1),
        "speech_end_to_final_p50_s": percentile(finals, 50),
        "speech_end_to_final_p95_s": percentile(finals, 95),
        "turns_all_legs": sum(r["turns"] for r in results), "turns_finalized": len(client),
        "client_final_p50_s": percentile(client, 50),
        "client_final_p95_s": percentile(client, 95),
        "speech_end_to_suggestions_p50_s": percentile(sugg, 50),
        "speech_end_to_suggestions_p95_s": percentile(sugg, 95),
        "server_reported_p50_s": percentile(server, 50),
        "final_to_suggestions_p50_s": percentile(f2s, 50),
        "final_to_suggestions_p95_s": percentile(f2s, 95),
        "errors": sorted({c for r in results for c in r["errors"]}),
    }
    p50, p95 = summary["speech_end_to_suggestions_p50_s"], summary["speech_end_to_suggestions_p95_s"]
    summary["pass"] = (p50 is not None and p95 is not None and p50 <= TARGET_P50_S and p95 <= TARGET_P95_S
                       and not summary["errors"])
    for r in results:
        med = statistics.median(r["suggestions"]) if r["suggestions"] else float("nan")
        print(f"{r['call']:24} {r['duration_s']:6.1f}s audio  {len(r['suggestions'])}/{r['customer_turns']} turns "
              f"with cards  median {med:.2f}s")
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "calls": results}, ensure_ascii=False, indent=1))
    return 0 if summary["pass"] else 1
