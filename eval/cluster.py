"""``python -m eval cluster --workers N --calls M [--kill-one] [--json] [--fake-models] [--pool]``

Starts the scaled-out topology locally (``eval/cluster_topology.py``: PostgreSQL, Redis, N workers behind
HAProxy, optionally the Ray Serve ASR pool), replays M recorded calls (``eval/data/calls_audio``) at real-time
pace through the balancer, 2 calls at once per worker, and watches what users would see:

- a **widget per call** on ``/ws/calls/{id}/events`` through the balancer; when its socket drops it reconnects
  through the balancer with ``after_seq`` (a worker killed under it: it resumes on another one);
- a **supervisor wall** (``/ws/events``) on every worker, connected straight to it; the killed worker's wall dies
  with it, the others count.

``--kill-one`` SIGKILLs, mid-call, the worker running the most calls. Then it waits for every call to leave
``live`` (ended, or marked interrupted by the surviving workers) and compares what was delivered with what the
shared database holds. The last line of stdout is JSON:

``calls``, ``completed`` (ended normally), ``interrupted`` (``interrupted_with_notes``: with notes), ``still_live``
(never reaped), ``events_lost`` (seqs a widget saw that the store lacks, plus stored seqs a widget never got),
``supervisor_gaps`` (stored seqs a surviving wall never showed), ``resumed`` (widgets dropped by the killed worker
that finished their call's stream on another one; ``widgets_on_killed`` were dropped), ``widgets_stalled``
(widgets whose socket stayed open after their call ended and had to reconnect to get the end),
``batch_size_max`` (largest ASR batch in the pool; null without it), ``pool_finals`` (finals it decoded),
``embed_batch_size_max`` and ``pool_queries`` (the embeddings pool's largest batch and the query texts it embedded).

``--fake-models`` runs the workers with the tests' scripted stages (a source checkout's
``tests/support/fake_worker.py``), so a run takes seconds: what it checks is routing, events across workers and a
worker's death, not recognition.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidHandshake

from asr.audio import SAMPLE_RATE, encode_pcm16
from asr.base import Leg
from assist.replay import FRAME_MS, turns_to_legs
from assist.store import CallStore
from eval.callset import SPLIT_AUDIO_CALLS, SPLIT_KB, CallSpec, read_split, replay_turns, turn_audio
from eval.cluster_topology import LocalTopology, TopologyError
from eval.server import ServerError

log = logging.getLogger(__name__)

WORKER_HEADER = "X-Assist-Worker"  # set by deploy/haproxy.cfg: which worker answered
STALL_GRACE_S = 5.0  # a widget still open this long after its call left `live` reconnects to get the end
FAKE_SECONDS = 8.0  # call length with --fake-models (the scripted recognizer needs no more)


def worker_of(ws: ClientConnection) -> str:
    """The worker the balancer gave this socket to (from the handshake's answer)."""
    return ws.response.headers.get(WORKER_HEADER, "?") if ws.response is not None else "?"


@dataclass
class Widget:
    """One call's events socket through the balancer, reconnecting with ``after_seq`` when it drops."""

    call_id: str
    seen: dict[int, str] = field(default_factory=dict)  # seq -> type
    servers: list[str] = field(default_factory=list)  # the worker of each connection, in order
    dropped_by: list[str] = field(default_factory=list)  # workers whose connection dropped under it
    finals: int = 0
    done: bool = False  # the server closed the stream normally (the call's end reached it)
    stalled: int = 0
    repeated: int = 0  # events delivered twice (a resume from the wrong seq)
    error: str | None = None
    _ws: Any = None
    _forced: bool = False

    @property
    def last(self) -> int:
        return max(self.seen, default=0)

    async def run(self, base: str) -> None:
        while not self.done:
            server = "?"
            try:
                url = f"{base}/ws/calls/{self.call_id}/events?wait=1&after_seq={self.last}"
                async with websockets.connect(url, open_timeout=10, max_size=None) as ws:
                    self._ws = ws
                    server = worker_of(ws)
                    self.servers.append(server)
                    if await self._read(ws) or self._forced:
                        continue
                    self.done = self.error is None
            except ConnectionClosedError:
                self.dropped_by.append(server)
            except (OSError, InvalidHandshake, TimeoutError) as exc:  # the balancer had no worker for it yet
                log.debug("widget %s: connect failed: %s", self.call_id, exc)
            finally:
                self._ws = None
                if self._forced:
                    self._forced = False
                    self.stalled += 1
            if self.error:
                return
            await asyncio.sleep(0.1)

    async def _read(self, ws: Any) -> bool:
        """Events until the socket closes; ``True`` when the server asked for a reconnect (``lagging``)."""
        async for message in ws:
            event = json.loads(message)
            if event.get("type") == "error":
                if event.get("code") == "lagging":
                    return True
                if event.get("fatal"):
                    self.error = str(event.get("code"))
                    return False
            seq = int(event.get("seq", 0))
            if seq in self.seen:
                self.repeated += 1
            elif seq > 0:
                self.seen[seq] = event["type"]
                self.finals += event["type"] == "transcript" and bool(event.get("final"))
        return False

    async def reconnect(self) -> None:
        """Close the current socket (its call ended but no end arrived); ``run`` reconnects from ``last``."""
        if self._ws is not None:
            self._forced = True
            await self._ws.close()


@dataclass
class CallRun:
    """One replayed call: where its audio went and how its sockets ended."""

    call_id: str
    seconds: float
    workers: set[str] = field(default_factory=set)
    started: bool = False
    finished: bool = False
    dropped: bool = False


async def wall(url: str, received: list[tuple[str, int]]) -> None:
    """The supervisor wall of one worker: (call id, seq) of every call event, in arrival order."""
    try:
        async with websockets.connect(f"{url}/ws/events", open_timeout=10, max_size=None) as ws:
            async for message in ws:
                event = json.loads(message)
                if int(event.get("seq", 0)) > 0:
                    received.append((event["call_id"], int(event["seq"])))
    except (ConnectionClosed, OSError):
        pass


async def send_audio(base: str, run: CallRun, legs: dict[Leg, np.ndarray], language: str) -> None:
    """One socket per leg through the balancer, 20 ms frames at real-time pace, then ``stop``."""
    frame_bytes = SAMPLE_RATE * FRAME_MS // 1000 * 2
    sockets = []
    try:
        for leg in legs:
            ws = await websockets.connect(f"{base}/ws/calls/{run.call_id}/audio", open_timeout=10, max_size=None)
            sockets.append(ws)
            run.workers.add(worker_of(ws))
            await ws.send(json.dumps({"type": "start", "call_id": run.call_id, "language": language,
                                      "encoding": "pcm16", "sample_rate": SAMPLE_RATE, "leg": leg}))
        pcm = {leg: encode_pcm16(audio, truncate=True) for leg, audio in legs.items()}
        n = max(len(p) for p in pcm.values()) // frame_bytes
        run.started = True
        t0 = time.monotonic()
        for i in range(n):
            delay = t0 + i * FRAME_MS / 1000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            for ws, p in zip(sockets, pcm.values(), strict=True):
                await ws.send(p[i * frame_bytes:(i + 1) * frame_bytes])
        for ws in sockets:
            await ws.send(json.dumps({"type": "stop"}))
        for ws in sockets:  # the server closes after flushing the call
            async for _ in ws:
                pass
        run.finished = True
    except (ConnectionClosed, OSError, InvalidHandshake, TimeoutError) as exc:
        run.dropped = True
        log.info("call %s: audio socket lost (%s)", run.call_id, exc)
    finally:
        for ws in sockets:
            await ws.close()


def call_legs(spec: CallSpec, seconds: float | None) -> dict[Leg, np.ndarray]:
    legs = turns_to_legs(replay_turns(spec, turn_audio(spec)))
    if seconds is not None:
        legs = {leg: audio[: int(seconds * SAMPLE_RATE)] for leg, audio in legs.items()}
    return legs


def pick_victim(runs: Sequence[CallRun], widgets: Sequence[Widget], names: Sequence[str]) -> str:
    """The worker running the most live calls (ties: the most widgets on it, then the first)."""
    def weight(name: str) -> tuple[int, int]:
        calls = sum(name in r.workers and r.started and not (r.finished or r.dropped) for r in runs)
        socks = sum(bool(w.servers) and w.servers[-1] == name and not w.done for w in widgets)
        return calls, socks
    return max(names, key=weight)


class ClusterRun:
    """One measurement on a running topology."""

    def __init__(self, topo: LocalTopology, calls: Sequence[CallSpec], *, seconds: float | None,
                 concurrency: int, kill: bool, kill_at: float, reap_timeout_s: float) -> None:
        self.topo = topo
        self.calls = list(calls)
        self.seconds = seconds
        self.concurrency = concurrency
        self.kill = kill
        self.kill_at = kill_at
        self.reap_timeout_s = reap_timeout_s
        self.victim: str | None = None
        self.killed_at: float | None = None
        self.widgets_on_killed: list[Widget] = []
        self.states: dict[str, dict[str, Any]] = {}

    async def run(self) -> dict[str, Any]:
        started = time.monotonic()
        suffix = uuid.uuid4().hex[:6]
        ids = [f"cluster-{i}-{suffix}" for i in range(len(self.calls))]
        legs = [call_legs(c, self.seconds) for c in self.calls]
        runs = [CallRun(cid, len(next(iter(lg.values()))) / SAMPLE_RATE) for cid, lg in zip(ids, legs, strict=True)]
        walls: dict[str, list[tuple[str, int]]] = {w.name: [] for w in self.topo.workers}
        wall_tasks = [asyncio.create_task(wall(w.ws, walls[w.name])) for w in self.topo.workers]
        widgets = [Widget(cid) for cid in ids]
        widget_tasks = []
        for w in widgets:  # one at a time: the balancer spreads them evenly
            widget_tasks.append(asyncio.create_task(w.run(self.topo.ws)))
            await _until(lambda w=w: bool(w.servers), 10)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(run: CallRun, spec: CallSpec, audio: dict[Leg, np.ndarray]) -> None:
            async with gate:
                await send_audio(self.topo.ws, run, audio, spec.language)

        senders = asyncio.gather(*(one(r, c, a) for r, c, a in zip(runs, self.calls, legs, strict=True)))
        try:
            if self.kill:
                await self._kill_mid_call(runs, widgets)
            await senders
            await self._wait_reaped(ids, widgets)
            async with httpx.AsyncClient(base_url=self.topo.http, timeout=10) as client:
                self.states = {cid: (await client.get(f"/api/calls/{cid}")).json() for cid in ids}
            stored = await asyncio.to_thread(_stored_seqs, self.topo.database_url, ids)
            await _until(lambda: all(_wall_complete(walls[n], stored) for n in self._survivors()), 5)
        finally:
            senders.cancel()
            for task in (*widget_tasks, *wall_tasks):
                task.cancel()
            await asyncio.gather(senders, *widget_tasks, *wall_tasks, return_exceptions=True)
        return self._report(runs, widgets, walls, stored, time.monotonic() - started)

    def _survivors(self) -> list[str]:
        return [w.name for w in self.topo.workers if w.name != self.victim]

    async def _kill_mid_call(self, runs: list[CallRun], widgets: list[Widget]) -> None:
        """SIGKILL once the first wave is streaming, past ``kill_at`` of its shortest call, every widget of it
        having seen a final transcript."""
        wave = runs[: self.concurrency]
        if not await _until(lambda: all(r.started or r.dropped for r in wave), 60):
            raise TopologyError("calls_did_not_start", "the first calls did not start within 60 s")
        t0 = time.monotonic()
        at = self.kill_at * min(r.seconds for r in wave)
        first = {w.call_id: w for w in widgets}
        await _until(lambda: time.monotonic() - t0 >= at and all(first[r.call_id].finals for r in wave), 2 * at + 30)
        await asyncio.sleep(max(0.0, at - (time.monotonic() - t0)))
        self.victim = pick_victim(runs, widgets, [w.name for w in self.topo.workers])
        self.widgets_on_killed = [w for w in widgets if w.servers and w.servers[-1] == self.victim and not w.done]
        self.killed_at = time.monotonic()
        await asyncio.to_thread(self.topo.kill, self.victim)

    async def _wait_reaped(self, ids: list[str], widgets: list[Widget]) -> None:
        """Until every call left ``live`` and every widget got its call's end (or ``reap_timeout_s``)."""
        deadline = time.monotonic() + self.reap_timeout_s
        ended_at: dict[str, float] = {}
        by_id = {w.call_id: w for w in widgets}
        async with httpx.AsyncClient(base_url=self.topo.http, timeout=5) as client:
            while time.monotonic() < deadline:
                for cid in ids:
                    if cid not in ended_at:
                        try:
                            row = (await client.get(f"/api/calls/{cid}")).json()
                        except (httpx.HTTPError, ValueError):
                            continue
                        if row.get("state") in ("ended", "interrupted"):
                            ended_at[cid] = time.monotonic()
                    elif not by_id[cid].done and time.monotonic() - ended_at[cid] > STALL_GRACE_S:
                        ended_at[cid] = time.monotonic()  # next grace period before another try
                        await by_id[cid].reconnect()
                if len(ended_at) == len(ids) and all(w.done or w.error for w in widgets):
                    return
                await asyncio.sleep(0.5)
        log.warning("not every call ended within %.0f s", self.reap_timeout_s)

    def _report(self, runs: list[CallRun], widgets: list[Widget], walls: dict[str, list[tuple[str, int]]],
                stored: dict[str, set[int]], elapsed_s: float) -> dict[str, Any]:
        lost = sum(len(set(w.seen) ^ stored[w.call_id]) for w in widgets)
        gaps = sum(len(stored[cid] - {s for c, s in walls[name] if c == cid})
                   for name in self._survivors() for cid in stored)
        resumed = sum(w.done and self.victim in w.dropped_by and w.servers[-1] != self.victim
                      for w in self.widgets_on_killed)
        states = [s.get("state") for s in self.states.values()]
        return {
            "calls": len(runs),
            "completed": states.count("ended"),
            "interrupted": states.count("interrupted"),
            "interrupted_with_notes": sum(s.get("state") == "interrupted" and bool(s.get("summary"))
                                          for s in self.states.values()),
            "still_live": states.count("live"),
            "events_lost": lost,
            "events_repeated": sum(w.repeated for w in widgets),
            "supervisor_gaps": gaps,
            "resumed": resumed,
            "widgets_on_killed": len(self.widgets_on_killed),
            "widgets_stalled": sum(w.stalled > 0 for w in widgets),
            "widget_errors": sorted({w.error for w in widgets if w.error}),
            **self._pool_stats(),
            "workers": len(self.topo.workers),
            "killed": self.victim,
            "calls_on_killed": sum(self.victim in r.workers for r in runs) if self.victim else 0,
            "split_calls": sum(len(r.workers) > 1 for r in runs),  # legs on different workers: routing broken
            "events_stored": sum(len(s) for s in stored.values()),
            "wall_events": {name: len(walls[name]) for name in self._survivors()},
            "elapsed_s": round(elapsed_s, 1),
        }

    def _pool_stats(self) -> dict[str, int | None]:
        """The largest batch and what each pool served: finals (ASR), query texts (embeddings); null without."""
        if not self.topo.pool:
            return {"batch_size_max": None, "pool_finals": None, "embed_batch_size_max": None, "pool_queries": None}
        asr, embed = _replica_stats(self.topo.pool_address), _replica_stats(self.topo.embed_address)
        return {"batch_size_max": max((int(a["batch_size_max"]) for a in asr), default=None),
                "pool_finals": sum(int(a["finals"]) for a in asr),
                "embed_batch_size_max": max((int(a["batch_size_max"]) for a in embed), default=None),
                "pool_queries": sum(int(a["texts"]) for a in embed)}


def _replica_stats(address: str) -> list[dict[str, Any]]:
    """Each replica's ``/stats``: a few asks reach the others (the run is over: a replica's answer is fixed)."""
    answers: dict[str, dict[str, Any]] = {}
    for _ in range(8):
        try:
            stats = httpx.get(f"{address}/stats", timeout=5).json()
            answers[json.dumps(stats, sort_keys=True)] = stats
        except (httpx.HTTPError, ValueError):
            continue
    return list(answers.values())


def _stored_seqs(database_url: str, ids: list[str]) -> dict[str, set[int]]:
    store = CallStore(database_url)
    try:
        return {cid: {seq for seq, _t, _b in store.event_bodies_after(cid, 0)} for cid in ids}
    finally:
        store.close()


def _wall_complete(received: list[tuple[str, int]], stored: dict[str, set[int]]) -> bool:
    got = set(received)
    return all((cid, s) in got for cid, seqs in stored.items() for s in seqs)


async def _until(condition: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def pick_calls(n: int, split: str | None) -> list[CallSpec]:
    """The first ``n`` recorded calls, repeated when ``n`` is more than the set holds."""
    pool = read_split(SPLIT_AUDIO_CALLS, split)
    if not pool:
        raise TopologyError("no_calls", f"no recorded calls in split {split!r}")
    return [pool[i % len(pool)] for i in range(n)]


def format_report(r: dict[str, Any]) -> str:
    return "\n".join([
        f"calls {r['calls']} on {r['workers']} workers: {r['completed']} completed, {r['interrupted']} interrupted "
        f"({r['interrupted_with_notes']} with notes), {r['still_live']} still live",
        f"killed {r['killed'] or '-'} ({r['calls_on_killed']} calls, {r['widgets_on_killed']} widgets on it); "
        f"resumed {r['resumed']}, stalled {r['widgets_stalled']}",
        f"events stored {r['events_stored']}, lost {r['events_lost']}; wall gaps {r['supervisor_gaps']}; "
        f"ASR batch max {r['batch_size_max']}, embeddings batch max {r['embed_batch_size_max']}; {r['elapsed_s']} s",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--kill-one", action="store_true", help="SIGKILL the busiest worker mid-call")
    parser.add_argument("--kill-at", type=float, default=0.4, help="when, as a fraction of the first calls' length")
    parser.add_argument("--fake-models", action="store_true", help="the tests' scripted stages instead of models")
    parser.add_argument("--pool", action="store_true", help="recognition on the Ray Serve ASR pool")
    parser.add_argument("--seconds", type=float, help=f"replay each call's first S seconds (--fake-models: "
                                                      f"{FAKE_SECONDS:g}; else the whole call)")
    parser.add_argument("--concurrency", type=int, help="calls at once (default: 2 per worker)")
    parser.add_argument("--split", choices=("dev", "test"), help="replay one split of the recorded calls")
    parser.add_argument("--reap-timeout", type=float, default=90.0,
                        help="seconds to wait, after the audio, for every call to leave live")
    parser.add_argument("--worker-ttl", type=float, help="server.worker_ttl_s: how soon a dead worker's calls are "
                                                        "reaped (heartbeat a third of it; default: the settings')")
    parser.add_argument("--json", action="store_true", help="only the JSON line")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.json else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per health poll otherwise
    if args.workers < 1 or args.calls < 1 or (args.kill_one and args.workers < 2):
        print("eval cluster: error [bad_arguments]: at least 1 worker and 1 call; --kill-one needs 2 workers",
              file=sys.stderr)
        return 2
    seconds = args.seconds if args.seconds is not None else (FAKE_SECONDS if args.fake_models else None)
    try:
        calls = pick_calls(args.calls, args.split)
        env = {} if args.worker_ttl is None else {"ASSIST_SERVER__WORKER_TTL_S": str(args.worker_ttl),
                                                  "ASSIST_SERVER__HEARTBEAT_S": str(args.worker_ttl / 3)}
        with LocalTopology(args.workers, fake_models=args.fake_models, pool=args.pool, env=env,
                           kb=[] if args.fake_models else list(SPLIT_KB)) as topo:
            measure = ClusterRun(topo, calls, seconds=seconds, concurrency=args.concurrency or 2 * args.workers,
                                 kill=args.kill_one, kill_at=args.kill_at, reap_timeout_s=args.reap_timeout)
            report = asyncio.run(measure.run())
    except (TopologyError, ServerError) as exc:
        print(f"eval cluster: error [{getattr(exc, 'code', 'cluster_failed')}]: {exc}", file=sys.stderr)
        return 2
    if not args.json:
        print(format_report(report))
    print(json.dumps(report))
    return 0
