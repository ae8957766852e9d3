"""``python -m eval bus-load``: how many events per second the Redis event bus carries, and how late they arrive.

Worker "a" (this process) publishes transcript-sized events for ``--calls`` calls through ``RedisCallHub``
(the service's own path: XADD to each call's stream and to the wall, pipelined, in order) at ``--rate`` events
per second for ``--seconds``; worker "b" (a child process, its own connections) follows every call's stream
with the service's ``RemoteCall`` readers and watches the wall. No database writes: this measures the bus.

    python -m eval bus-load --rate 5000 --seconds 10 --calls 50 [--redis-url redis://host:6379/0] [--json]

The last line is JSON: ``published`` events, ``publish_rate`` (events/s reaching Redis, acknowledged),
``delivered`` and ``wall_delivered`` (events worker b received), ``gaps`` and ``out_of_order`` (must be 0),
``lag_p50_ms`` / ``lag_p95_ms`` / ``lag_p99_ms`` (publish on a → receipt on b, per-call streams),
``wall_lag_p95_ms``, and the CPU each event cost the publishing worker, the following worker (every call
followed plus the wall) and Redis (``*_cpu_us_per_event``): the figures for sizing, since on a shared machine
the rate and lag depend on what else runs. Without ``--redis-url`` a throw-away ``redis-server`` is started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import sys
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from assist.events import TranscriptEvent
from assist.hub import CLOSED, Envelope
from assist.store import CallStore
from eval.local_redis import LocalRedis
from eval.stats import percentile

log = logging.getLogger(__name__)

TEXT = "お客様のカードの再発行についてご案内いたします。お手続きには数日かかります。"  # a typical final's length


def _open_bus(url: str, store: Path, queue_size: int) -> Any:
    from assist.bus_redis import RedisBus

    return RedisBus(url, CallStore(store), queue_size=queue_size)


async def _follow(url: str, store: Path, call_ids: Sequence[str], conn: Connection) -> None:
    """Worker b: receipt times per call (in seq order) and on the wall, until every call's stream closed."""
    bus = _open_bus(url, store, queue_size=1_000_000)
    await bus.start()
    received: dict[str, list[tuple[int, float]]] = {c: [] for c in call_ids}
    wall: list[tuple[str, int, float]] = []
    wall_sub = bus.supervisor.subscribe()

    async def one(call_id: str) -> None:
        sub, _ = bus.remote_call(call_id).subscribe(0)
        while (env := await sub.queue.get()) is not CLOSED:
            received[call_id].append((env.seq, time.time()))

    async def watch_wall() -> None:
        while True:
            env: Envelope = await wall_sub.queue.get()
            wall.append((env.call_id, env.seq, time.time()))

    walls = asyncio.ensure_future(watch_wall())
    readers = asyncio.gather(*(one(c) for c in call_ids))
    await asyncio.sleep(0.5)  # every reader has issued its first XREAD
    cpu = time.process_time()
    conn.send("ready")
    await asyncio.wait_for(readers, 120)
    await asyncio.sleep(0.5)  # the wall's last entries
    cpu = time.process_time() - cpu
    walls.cancel()
    await bus.close()
    conn.send({"received": received, "wall": wall, "cpu_s": cpu})


def _follower_main(url: str, store: str, call_ids: list[str], conn: Connection) -> None:
    asyncio.run(_follow(url, Path(store), call_ids, conn))


async def _redis_cpu_s(bus: Any) -> float:
    info = await bus.client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def _publish(url: str, store: Path, call_ids: Sequence[str], rate: int, seconds: float
                   ) -> tuple[dict[tuple[str, int], float], dict[str, float]]:
    """Worker a: publish times per (call, seq), and the seconds until Redis acknowledged everything, this
    process's CPU seconds, Redis's CPU seconds and the most writes ever queued."""
    bus = _open_bus(url, store, queue_size=256)
    await bus.start()
    redis_cpu, cpu = await _redis_cpu_s(bus), time.process_time()
    loop = asyncio.get_running_loop()
    hubs = [bus.open_call(c, loop=loop, writer=None, first_seq=1) for c in call_ids]
    sent: dict[tuple[str, int], float] = {}
    total = int(rate * seconds)
    tick = 0.01
    per_tick = max(1, round(rate * tick))
    started = time.perf_counter()
    next_tick = started
    max_pending = 0
    for i in range(total):
        hub = hubs[i % len(hubs)]
        event = TranscriptEvent(call_id=hub.call_id, leg="agent", utterance_id=f"a{i}", text=TEXT, final=True,
                                start=0.0, end=2.0, language="ja")
        sent[(hub.call_id, hub.publish(event))] = time.time()
        if (i + 1) % per_tick == 0:
            max_pending = max(max_pending, bus.publisher.pending)
            next_tick += tick
            await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
    await bus.publisher.flush(60)
    elapsed = time.perf_counter() - started
    for hub in hubs:
        await hub.close()
    await bus.publisher.flush(60)
    await asyncio.sleep(1.0)  # the follower's last reads
    stats = {"elapsed_s": elapsed, "cpu_s": time.process_time() - cpu, "max_pending": max_pending,
             "redis_cpu_s": await _redis_cpu_s(bus) - redis_cpu}
    await bus.close()
    return sent, stats


def _ms(values: list[float], q: float) -> float | None:
    return percentile([v * 1000 for v in values], q, digits=1)


def run(url: str, *, rate: int, seconds: float, calls: int) -> dict[str, Any]:
    call_ids = [f"load-{time.time_ns()}-{i}" for i in range(calls)]
    with tempfile.TemporaryDirectory(prefix="bus-load-") as tmp:
        store = Path(tmp) / "assist.db"
        CallStore(store).close()
        parent, child = mp.get_context("spawn").Pipe()
        follower = mp.get_context("spawn").Process(target=_follower_main, args=(url, str(store), call_ids, child))
        follower.start()
        if not parent.poll(60):
            follower.kill()
            raise RuntimeError("the following worker did not start")
        parent.recv()
        sent, stats = asyncio.run(_publish(url, store, call_ids, rate, seconds))
        if not parent.poll(180):
            follower.kill()
            raise RuntimeError("the following worker did not receive every call's end")
        got = parent.recv()
        follower.join(10)
    lags, gaps, out_of_order, delivered = [], 0, 0, 0
    for call_id, rows in got["received"].items():
        seqs = [s for s, _ in rows]
        delivered += len(seqs)
        out_of_order += sum(1 for x, y in zip(seqs, seqs[1:], strict=False) if y <= x)
        gaps += sum(1 for x, y in zip(seqs, seqs[1:], strict=False) if y > x + 1)
        lags += [t - sent[(call_id, s)] for s, t in rows if (call_id, s) in sent]
    wall_lags = [t - sent[(c, s)] for c, s, t in got["wall"] if (c, s) in sent]
    per_event_us = 1e6 / max(1, len(sent))
    return {"calls": calls, "target_rate": rate, "seconds": seconds, "published": len(sent),
            "publish_rate": round(len(sent) / stats["elapsed_s"]), "max_pending_writes": stats["max_pending"],
            "publisher_cpu_us_per_event": round(stats["cpu_s"] * per_event_us, 1),
            "follower_cpu_us_per_event": round(got["cpu_s"] * per_event_us, 1),
            "redis_cpu_us_per_event": round(stats["redis_cpu_s"] * per_event_us, 1),
            "delivered": delivered, "wall_delivered": len(wall_lags), "gaps": gaps, "out_of_order": out_of_order,
            "lag_p50_ms": _ms(lags, 50), "lag_p95_ms": _ms(lags, 95), "lag_p99_ms": _ms(lags, 99),
            "wall_lag_p95_ms": _ms(wall_lags, 95)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval bus-load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", help="An existing Redis (default: start a throw-away redis-server)")
    parser.add_argument("--rate", type=int, default=5000, help="Events per second to publish")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--calls", type=int, default=50, help="Calls the events are spread over")
    parser.add_argument("--json", action="store_true", help="Only the JSON line")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.json else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(message)s")
    if args.redis_url:
        report = run(args.redis_url, rate=args.rate, seconds=args.seconds, calls=args.calls)
    else:
        with tempfile.TemporaryDirectory(prefix="bus-load-redis-") as folder, LocalRedis(Path(folder)) as url:
            report = run(url, rate=args.rate, seconds=args.seconds, calls=args.calls)
    if not args.json:
        print(f"published {report['published']} events at {report['publish_rate']}/s "
              f"(target {args.rate}/s); delivered {report['delivered']} on the other worker, "
              f"lag p95 {report['lag_p95_ms']} ms, wall p95 {report['wall_lag_p95_ms']} ms")
    print(json.dumps(report))
    ok = report["gaps"] == 0 and report["out_of_order"] == 0 and report["delivered"] == report["published"]
    return 0 if ok else 1
