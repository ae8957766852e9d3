"""``python -m eval soak``: replay calls in a loop against a real server and watch it age.

A leak or a growing queue does not show in a five-minute benchmark; it shows as resident memory that
keeps climbing and latencies that drift upwards over half an hour. The server runs as a child process
(the operator's ``assist serve`` in a throwaway home, see ``eval.server``) so its RSS, threads and open
files can be read from ``/proc`` while ``--calls`` calls stream in real time, back to back.

    python -m eval soak --minutes 30 --calls 2 --out soak.json --plot soak.png
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assist.replay import replay_call
from config import load_settings
from eval.callset import CallSpec, read_calls, replay_turns
from eval.server import eval_server
from eval.stats import percentile

log = logging.getLogger(__name__)

DATA = Path(__file__).parent / "data"


@dataclass
class Sample:
    t: float  # seconds since the soak started
    rss_mb: float
    threads: int
    fds: int


@dataclass
class CallRun:
    started: float  # seconds since the soak started
    call_id: str
    call: str  # the call of the set it replays
    suggest_ms: list[float]
    summary_ms: float | None
    errors: list[str]
    seconds: float


@dataclass
class SoakReport:
    minutes: float
    concurrency: int
    calls_done: int
    calls_failed: int
    rss_start_mb: float
    rss_end_mb: float
    rss_growth_pct: float
    rss_slope_mb_per_h: float  # least-squares slope after warm-up: a leak keeps it up, settling brings it down
    warm_up_s: float
    threads_start: int
    threads_end: int
    fds_start: int
    fds_end: int
    suggest_p50_first_ms: float | None
    suggest_p50_last_ms: float | None
    suggest_drift_pct: float | None
    summary_p50_ms: float | None
    samples: list[Sample] = field(default_factory=list)
    runs: list[CallRun] = field(default_factory=list)


def proc_stats(pid: int) -> tuple[float, int, int]:
    """(RSS in MB, threads, open file descriptors) of a live process, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    rss_kb = int(fields["VmRSS"].split()[0])
    return rss_kb / 1024, int(fields["Threads"]), len(os.listdir(f"/proc/{pid}/fd"))


def _warm_up_end(runs: list[CallRun]) -> float:
    """When the last distinct call of the set first finished (0 without runs)."""
    first: dict[str, float] = {}
    for r in sorted(runs, key=lambda r: r.started + r.seconds):
        first.setdefault(r.call, r.started + r.seconds)
    return max(first.values(), default=0.0)


def _slope_per_hour(samples: list[Sample]) -> float:
    if len(samples) < 2 or samples[-1].t == samples[0].t:
        return 0.0
    slope = float(np.polyfit([s.t for s in samples], [s.rss_mb for s in samples], 1)[0])
    return round(slope * 3600, 1)


def summarize(samples: list[Sample], runs: list[CallRun], minutes: float, concurrency: int) -> SoakReport:
    """RSS growth from the end of warm-up to the end; latency drift between the first and the last third of
    the calls. Warm-up ends once every call of the set has played once: each brings new utterance lengths,
    and the decoder's and allocator's buffers grow to the largest shape they have seen, which is not a leak."""
    warm_t = _warm_up_end(runs)
    warm = [s for s in samples if s.t >= warm_t] or samples
    head, tail = warm[: max(1, len(warm) // 10)], warm[-max(1, len(warm) // 10):]
    rss0, rss1 = statistics.median(s.rss_mb for s in head), statistics.median(s.rss_mb for s in tail)
    ok = [r for r in runs if not r.errors]
    third = max(1, len(ok) // 3)
    first = percentile([v for r in ok[:third] for v in r.suggest_ms], 50, digits=1)
    last = percentile([v for r in ok[-third:] for v in r.suggest_ms], 50, digits=1)
    drift = round((last - first) / first * 100, 1) if first and last else None
    return SoakReport(
        minutes=minutes, concurrency=concurrency, calls_done=len(ok), calls_failed=len(runs) - len(ok),
        rss_start_mb=round(rss0, 1), rss_end_mb=round(rss1, 1), rss_growth_pct=round((rss1 - rss0) / rss0 * 100, 2),
        rss_slope_mb_per_h=_slope_per_hour(warm), warm_up_s=warm_t,
        threads_start=head[0].threads, threads_end=tail[-1].threads, fds_start=head[0].fds, fds_end=tail[-1].fds,
        suggest_p50_first_ms=first, suggest_p50_last_ms=last, suggest_drift_pct=drift,
        summary_p50_ms=percentile([r.summary_ms for r in ok if r.summary_ms is not None], 50, digits=1),
        samples=samples, runs=runs)


async def _worker(url: str, calls: list[CallSpec], audio: dict[str, list[Any]], offset: int, deadline: float,
                  t0: float, runs: list[CallRun]) -> None:
    i = offset
    while time.monotonic() < deadline:
        call = calls[i % len(calls)]
        i += 1
        started = time.monotonic()
        call_id = f"soak-{call.id}-{uuid.uuid4().hex[:6]}"
        events = await replay_call(url, call_id, turns=replay_turns(call, audio[call.id]), language=call.language,
                                   timeout_s=600)
        errors = [f"{e.get('code')}: {e.get('message')}" for e in events if e.get("type") == "error"]
        if not any(e.get("type") == "summary" for e in events):
            errors.append("no summary")
        runs.append(CallRun(
            started=round(started - t0, 1), call_id=call_id, call=call.id,
            suggest_ms=[e["speech_to_suggestion_ms"] for e in events if e.get("type") == "suggestions"],
            summary_ms=next((e.get("latency_ms") for e in events if e.get("type") == "summary"), None),
            errors=errors, seconds=round(time.monotonic() - started, 1)))
        log.info("call %s done in %.0f s (%d errors)", call_id, runs[-1].seconds, len(errors))


def _sample(pid: int, t0: float) -> Sample:
    rss, threads, fds = proc_stats(pid)
    return Sample(round(time.monotonic() - t0, 1), round(rss, 1), threads, fds)


async def _sampler(pid: int, every_s: float, t0: float, samples: list[Sample], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(_sample(pid, t0))
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except TimeoutError:
            pass


async def soak(url: str, pid: int, calls: list[CallSpec], audio: dict[str, list[Any]], *, minutes: float,
               concurrency: int, sample_s: float) -> SoakReport:
    t0 = time.monotonic()
    deadline = t0 + minutes * 60
    runs: list[CallRun] = []
    samples: list[Sample] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sampler(pid, sample_s, t0, samples, stop))
    await asyncio.gather(*(_worker(url, calls, audio, k * max(1, len(calls) // concurrency), deadline, t0, runs)
                           for k in range(concurrency)))
    stop.set()
    await sampler
    await asyncio.sleep(5)  # a last sample once every call has ended: threads and files should be back
    samples.append(_sample(pid, t0))
    runs.sort(key=lambda r: r.started)
    return summarize(samples, runs, minutes, concurrency)


def plot(report: SoakReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    ax1.plot([s.t / 60 for s in report.samples], [s.rss_mb for s in report.samples])
    ax1.axvline(report.warm_up_s / 60, color="grey", linestyle="--", linewidth=1)  # every call played once
    ax1.set_ylabel("server RSS (MB)")
    ax2.scatter([r.started / 60 for r in report.runs for _ in r.suggest_ms],
                [v for r in report.runs for v in r.suggest_ms], s=6)
    ax2.set_ylabel("speech → suggestion (ms)")
    ax2.set_xlabel("minutes")
    fig.suptitle(f"soak: {report.concurrency} concurrent calls, RSS {report.rss_growth_pct:+.1f} %")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--calls", type=int, default=2, help="Concurrent calls, streamed in real time")
    parser.add_argument("--call-set", type=Path, default=DATA / "calls_audio" / "calls_audio.jsonl")
    parser.add_argument("--kb", type=Path, default=DATA / "kb.jsonl")
    parser.add_argument("--sample-s", type=float, default=10.0, help="Seconds between RSS samples")
    parser.add_argument("--out", type=Path, help="Write the full report (samples, every call) as JSON")
    parser.add_argument("--plot", type=Path, help="Write RSS and latency over time as a PNG")
    parser.add_argument("--config", type=Path, help="TOML settings for the server")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)

    from eval.calls import load_audio

    calls = read_calls(args.call_set)
    audio = load_audio(calls)
    settings = load_settings(args.config)
    with eval_server(args.kb, settings, config=args.config) as server:
        report = asyncio.run(soak(server.url, server.pid, calls, audio, minutes=args.minutes,
                                  concurrency=args.calls, sample_s=args.sample_s))
    brief = {k: v for k, v in asdict(report).items() if k not in ("samples", "runs")}
    print(json.dumps(brief, indent=1))
    if args.out:
        args.out.write_text(json.dumps(asdict(report), ensure_ascii=False, indent=1))
    if args.plot:
        plot(report, args.plot)
    return 0 if report.calls_failed == 0 else 1
