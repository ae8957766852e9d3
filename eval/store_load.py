"""``python -m eval store-load``: can the store commit a synthetic load of call events, on SQLite and PostgreSQL?

The write path is the live service's: every event is its own write submitted to a ``StoreWriter`` (what
``CallHub.publish`` does), committed before it may be delivered; the writer groups what queued up into one
transaction. ``--writers`` processes stand for the workers, each with its own connection, writer and calls,
together offering ``--rate`` events a second for ``--seconds`` (``--rate 0``: as fast as they can submit).
Reported: the committed rate (every event over the time from the first submit to the last commit) and the
delay from submit to commit, which is how late an event reaches its subscribers. PostgreSQL is a throw-away
local server with its durable defaults (fsync and synchronous commits on; ``eval.local_postgres``) unless
``--database-url`` names one (the rows written there are deleted afterwards). The last line is JSON.

    python -m eval store-load --writers 4 --rate 6000 --seconds 5
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import multiprocessing as mp
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assist.store import CallStore
from assist.store_writer import StoreWriter
from eval.local_postgres import LocalPostgres

log = logging.getLogger(__name__)

TARGET_EVENTS_PER_S = 5000  # issue 15: the event headroom asked of the shared store (docs/SCALING.md)
CALLS_PER_WRITER = 25  # 4 writers: 100 live calls
TICK_S = 0.01  # a writer submits its share of the rate in bursts this far apart


@dataclass
class LoadResult:
    backend: str
    writers: int
    offered_per_s: int  # 0: unpaced
    events: int
    seconds: float
    events_per_s: int
    commit_delay_ms_p50: float
    commit_delay_ms_p99: float
    commit_delay_ms_max: float


def _body(call_id: str, seq: int) -> str:
    """A transcript event about the size of a real one (~300 bytes of JSON)."""
    return json.dumps({"type": "transcript", "call_id": call_id, "seq": seq, "ts": time.time(), "leg": "customer",
                       "utterance_id": f"customer-{seq}", "final": True, "language": "ja",
                       "text": "カードを紛失してしまったので利用を止めてほしいのですが", "start": 1.0, "end": 2.5},
                      ensure_ascii=False, separators=(",", ":"))


def _add_event(row: tuple[str, int, str, float, str], store: CallStore) -> None:
    store.add_events([row])


def _writer(target: str, prefix: str, index: int, events: int, rate: float, barrier: Any, out: Any) -> None:
    store = CallStore(target)
    writer = StoreWriter(store)
    calls = [f"{prefix}-{index}-{c}" for c in range(CALLS_PER_WRITER)]
    for call_id in calls:
        store.create_call(call_id, language="ja", source="load", legs=["customer"])
    delays: list[float] = []
    lock = threading.Lock()

    def committed(submitted: float) -> None:
        with lock:
            delays.append(time.perf_counter() - submitted)

    barrier.wait()
    started, t0 = time.time(), time.perf_counter()
    per_tick = max(1, round(rate * TICK_S)) if rate else events
    for n in range(events):
        if rate and n % per_tick == 0:  # keep to the schedule; behind it, submit at once
            time.sleep(max(0.0, t0 + n / rate - time.perf_counter()))
        call_id = calls[n % len(calls)]
        row = (call_id, n // len(calls) + 1, "transcript", time.time(), _body(call_id, n // len(calls) + 1))
        writer.submit(functools.partial(_add_event, row), functools.partial(committed, time.perf_counter()))
    writer.flush(timeout=600)
    out.put((started, time.time(), delays))
    writer.close()
    store.close()


def measure(backend: str, target: str, *, writers: int, rate: int, seconds: float) -> LoadResult:
    """``rate`` events a second (0: unpaced, ``seconds`` x 5,000 events) split over ``writers`` processes."""
    ctx = mp.get_context("spawn")  # a fresh interpreter each: no connection or lock inherited across fork
    barrier, out = ctx.Barrier(writers), ctx.Queue()
    prefix = f"load-{uuid.uuid4().hex[:8]}"
    share = int((rate or TARGET_EVENTS_PER_S) * seconds) // writers
    procs = [ctx.Process(target=_writer, args=(target, prefix, i, share, rate / writers, barrier, out))
             for i in range(writers)]
    for p in procs:
        p.start()
    results = [out.get(timeout=900) for _ in procs]
    for p in procs:
        p.join()
    if any(p.exitcode for p in procs):
        raise RuntimeError(f"a {backend} writer failed (exit codes {[p.exitcode for p in procs]})")
    elapsed = max(r[1] for r in results) - min(r[0] for r in results)
    delays = sorted(d * 1000 for r in results for d in r[2])
    if len(delays) != share * writers:
        raise RuntimeError(f"{share * writers - len(delays)} {backend} events were never committed")
    _delete(target, prefix)
    return LoadResult(backend, writers, rate, len(delays), round(elapsed, 3), round(len(delays) / elapsed),
                      round(delays[len(delays) // 2], 2), round(delays[int(len(delays) * 0.99) - 1], 2),
                      round(delays[-1], 2))


def _delete(target: str, prefix: str) -> None:
    """Leave a real database as it was."""
    from common.db import open_store

    db = open_store(target, "probe", ())
    with db.transaction() as conn:
        conn.execute("DELETE FROM events WHERE call_id LIKE ?", (prefix + "-%",))
        conn.execute("DELETE FROM calls WHERE id LIKE ?", (prefix + "-%",))
    db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval store-load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--writers", type=int, default=4, help="processes writing at once (the workers)")
    parser.add_argument("--rate", type=int, default=6000, help="events a second offered by all writers; 0: unpaced")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the load is offered")
    parser.add_argument("--database-url", help="a PostgreSQL to measure instead of a throw-away local one")
    parser.add_argument("--json", action="store_true", help="only the JSON line")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - {"sqlite", "postgres"}:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    if args.writers < 1 or args.rate < 0 or args.seconds <= 0:
        parser.error("need --writers >= 1, --rate >= 0 and --seconds > 0")
    results: list[LoadResult] = []
    for backend in backends:
        run = {"writers": args.writers, "rate": args.rate, "seconds": args.seconds}
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="assist-load-") as folder:
                results.append(measure(backend, str(Path(folder) / "assist.db"), **run))
        elif args.database_url:
            results.append(measure(backend, args.database_url, **run))
        else:
            with LocalPostgres(durable=True) as server:
                results.append(measure(backend, server.create_database("load"), **run))
        if not args.json:
            r = results[-1]
            print(f"{r.backend:9s} {r.events} events from {r.writers} writers (offered {r.offered_per_s or 'max'}/s): "
                  f"{r.events_per_s} events/s committed; submit to commit p50 {r.commit_delay_ms_p50} ms, "
                  f"p99 {r.commit_delay_ms_p99} ms, max {r.commit_delay_ms_max} ms")
    print(json.dumps({"target_events_per_s": TARGET_EVENTS_PER_S,
                      "results": [{**asdict(r), "target_met": r.events_per_s >= TARGET_EVENTS_PER_S}
                                  for r in results]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
