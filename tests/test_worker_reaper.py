"""A worker that dies mid-call: worker ids, heartbeats, the reaper, and widgets resuming on another worker.

The store and heartbeat cases run on SQLite and PostgreSQL (``store_target``); the reaper's rounds run against a
real store with a recording bus; the end-to-end case SIGKILLs a real worker (this file run as a script, with
scripted models) that shares Redis and the database with a second one, whose widgets and wall must see the call
end ``interrupted`` with notes, every event once and in order.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import websockets
from pydantic import ValidationError
from support.postgres import StoreTarget

from assist.hub import Envelope
from assist.reaper import Reaper
from assist.store import MIGRATIONS, CallStore
from assist.workers import DatabaseBeats, Heartbeat, WorkerError, worker_id_of
from common.db import open_store
from config import Settings

HERE = Path(__file__).parent
CUSTOMER = ["カードをなくしました", "再発行はできますか", "手数料はかかりますか", "いつ届きますか", "以上です"]
RESPONSES = {"カードをなくしました": ["lost-card"], "再発行はできますか": ["reissue"],
             "手数料はかかりますか": ["fees"], "いつ届きますか": ["reissue"]}
FAST = {"heartbeat_s": 0.2, "worker_ttl_s": 1.0}  # a dead worker is found within about 1.5 s


# ---------------------------------------------------------------- settings and identity


def test_worker_settings_are_validated(tmp_path: Path) -> None:
    for bad, code in (({"worker_id": "a b"}, "bad_worker_id"), ({"worker_id": "-a"}, "bad_worker_id"),
                      ({"worker_id": "x" * 65}, "bad_worker_id"),
                      ({"heartbeat_s": 3, "worker_ttl_s": 5}, "bad_worker_ttl")):
        with pytest.raises(ValidationError) as err:
            Settings(home=tmp_path, server=bad)
        assert [e["type"] for e in err.value.errors()] == [code], bad
    assert worker_id_of(Settings(home=tmp_path, server={"worker_id": "w-1.a_b"})) == "w-1.a_b"
    default = Settings(home=tmp_path)
    first, second = worker_id_of(default), worker_id_of(default)
    assert first != second and f"-{os.getpid()}-" in first, "unset: hostname-pid-random, new at every start"
    Settings(home=tmp_path, server={"worker_id": first})  # a generated id is a valid setting


# ---------------------------------------------------------------- the store


def _call(store: CallStore, call_id: str, worker: str | None, *, utterances: Sequence[str] = ()) -> None:
    store.create_call(call_id, language="ja", source="websocket", legs=["customer"], worker_id=worker)
    store.add_events([(call_id, 1, "call_started", 1.0, json.dumps({"type": "call_started", "seq": 1}))])
    for i, text in enumerate(utterances):
        store.add_utterance(call_id, f"c{i}", leg="customer", text=text, start=i, end=i + 0.5)
        store.add_events([(call_id, i + 2, "transcript", 2.0 + i, json.dumps(
            {"type": "transcript", "seq": i + 2, "final": True, "text": text, "language": "ja"}))])
    if utterances:
        store.add_suggestions(call_id, "c0", utterances[0], [("lost-card", "カードを紛失した場合", 1, 0.9)])


def test_one_reaper_takes_each_call_of_a_dead_worker(store_target: StoreTarget) -> None:
    target = store_target("calls.db")
    store, other = CallStore(target), CallStore(target)
    for i in range(20):
        _call(store, f"dead-{i}", "w-dead")
    _call(store, "alive", "w-alive")
    _call(store, "done", "w-dead")
    store.end_call("done", reason="stop")
    assert store.get_call("alive").worker_id == "w-alive"
    assert store.workers_with_calls() == {"w-dead", "w-alive"}

    taken: dict[str, list[str]] = {}
    go = threading.Barrier(2)

    def reap(name: str, s: CallStore) -> None:
        go.wait()
        taken[name] = s.interrupt_calls("w-dead", by=name)

    threads = [threading.Thread(target=reap, args=args) for args in (("r1", store), ("r2", other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(taken["r1"] + taken["r2"]) == sorted(f"dead-{i}" for i in range(20)), "each call taken once"
    winner = "r1" if taken["r1"] else "r2"
    assert not taken["r1"] or not taken["r2"], "one UPDATE: one reaper wins them all"
    rows = {c.id: c for c in store.list_calls(limit=100)}
    assert {rows[f"dead-{i}"].state for i in range(20)} == {"interrupted"}
    assert rows["dead-0"].end_reason == "interrupted" and rows["dead-0"].ended == 1.0, "ended at its last event"
    assert rows["dead-0"].worker_id == "w-dead", "the call still names the worker that ran it"
    assert rows["alive"].state == "live" and rows["done"].state == "ended"
    assert store.workers_with_calls() == {"w-alive", winner}, "the winner owes the notes"
    assert len(store.owed_notes(winner)) == 20

    adopted = other.adopt_orphans(winner, by="r3")
    assert sorted(adopted) == sorted(store.owed_notes("r3")) and len(adopted) == 20
    assert store.owed_notes(winner) == []
    with store.batch():
        assert store.settle_orphan("dead-0", by="r3")
    assert not store.settle_orphan("dead-0", by="r3"), "settled once"
    assert not store.settle_orphan("dead-1", by=winner), "only the reaper that owes them"
    assert store.create_call("dead-1", language="ja", source="websocket", legs=["customer"], worker_id="w-new") == 1
    assert not store.settle_orphan("dead-1", by="r3"), "a reopened call writes its own notes at its end"
    assert store.get_call("dead-1").worker_id == "w-new"
    assert store.interrupt_calls("w-dead", by="r1") == [], "nothing left to take"
    store.close()
    other.close()


def test_a_database_from_before_worker_ids_is_upgraded(tmp_path: Path) -> None:
    db = open_store(tmp_path / "old.db", "calls", MIGRATIONS[:2])
    with db.transaction() as conn:
        conn.execute("INSERT INTO calls (id, started, state) VALUES ('old', 1.0, 'live')")
    db.close()
    store = CallStore(tmp_path / "old.db")
    row = store.get_call("old")
    assert row is not None and row.worker_id is None and row.state == "live"
    assert store.workers_with_calls() == {None}
    assert store.interrupt_calls(None, by="w1") == ["old"]
    store.close()
    version = sqlite3.connect(tmp_path / "old.db").execute("SELECT version_num FROM alembic_version_calls").fetchone()
    assert version == (f"calls_{len(MIGRATIONS):04d}",)


# ---------------------------------------------------------------- heartbeats


def test_heartbeats_in_the_database(store_target: StoreTarget) -> None:
    target = store_target("calls.db")
    beat = Heartbeat(DatabaseBeats(target, ttl_s=1.0), "w1", interval_s=0.1, ttl_s=1.0)
    beat.acquire()
    beat.start()
    probe = DatabaseBeats(target, ttl_s=1.0)
    try:
        assert probe.alive(["w1", "w2"]) == {"w1"}
        twin = Heartbeat(DatabaseBeats(target, ttl_s=1.0), "w1", interval_s=0.1, ttl_s=1.0)
        with pytest.raises(WorkerError) as err:
            twin.acquire()
        assert err.value.code == "worker_id_in_use"
        twin.beats.close()
        beat.stop()
        assert probe.alive(["w1"]) == set(), "a clean stop removes the beat"

        probe.write("w1", "a-dead-predecessor:7")  # beat once, then killed: never removed
        again = Heartbeat(DatabaseBeats(target, ttl_s=1.0), "w1", interval_s=0.1, ttl_s=1.0)
        started = time.monotonic()
        again.acquire()
        assert time.monotonic() - started >= 0.8, "the predecessor's beat was waited out"
        assert probe.read("w1") is not None and probe.alive(["w1"]) == {"w1"}
        again.stop()
    finally:
        probe.close()


# ---------------------------------------------------------------- the reaper's rounds


@dataclass
class RecordingBus:
    distributed = True
    published: list[tuple[str, list[int], bool]] = field(default_factory=list)

    async def publish_stored(self, call_id: str, events: Sequence[Envelope], *, closed: bool) -> None:
        self.published.append((call_id, [e.seq for e in events], closed))


@dataclass
class FakeBeats:
    alive_ids: set[str] = field(default_factory=set)
    confirm_s: float = 0.0

    def alive(self, worker_ids: Sequence[str]) -> set[str]:
        return set(worker_ids) & self.alive_ids


def _reaper(worker_id: str, store: CallStore, bus: RecordingBus, beats: FakeBeats, *, loaded: bool = True,
            alone: bool = False) -> Reaper:
    from support.live import fake_stages

    services: Any = SimpleNamespace(stages=fake_stages() if loaded else None)
    return Reaper(worker_id, store=store, bus=bus, services=services, beats=beats,
                  interval_s=0.1, language="ja", alone=alone)


async def test_a_round_interrupts_the_dead_workers_calls_and_writes_their_notes(store_target: StoreTarget) -> None:
    store = CallStore(store_target("calls.db"))
    _call(store, "lost", "w-dead", utterances=["カードをなくしました", "再発行はできますか"])
    _call(store, "busy", "w-alive")
    _call(store, "mine", "me")
    bus, beats = RecordingBus(), FakeBeats({"w-alive", "me"})
    reaper = _reaper("me", store, bus, beats)
    await reaper.reap()
    assert {c.id: c.state for c in store.list_calls()} == {"lost": "interrupted", "busy": "live", "mine": "live"}
    assert bus.published == [("lost", [4], False), ("lost", [5], True)], "the change, then the notes and the end"
    events = store.events_after("lost", 3)
    assert [(e["type"], e["seq"], e.get("state")) for e in events] == [("status", 4, "interrupted"),
                                                                       ("summary", 5, None)]
    summary = store.summary("lost")
    assert summary is not None and summary["notes"] == events[1]["notes"]
    assert [line["text"] for line in summary["notes"]["inquiry"]] == ["カードをなくしました"], "from the stored turns"
    assert summary["notes"]["disposition"] == "カードを紛失した場合", "and the call's top card"
    assert [u["text"] for u in store.utterances("lost")] == ["カードをなくしました", "再発行はできますか"]
    assert store.owed_notes("me") == []
    await reaper.reap()
    assert len(bus.published) == 2, "nothing twice"
    store.close()


async def test_a_reaper_that_dies_owing_notes_is_reaped_in_turn(store_target: StoreTarget) -> None:
    store = CallStore(store_target("calls.db"))
    _call(store, "a", "w-dead", utterances=["カードをなくしました"])
    _call(store, "b", "w-dead", utterances=["再発行はできますか"])
    bus = RecordingBus()
    await _reaper("r1", store, bus, FakeBeats({"r1"}), loaded=False).reap()  # models loading: notes wait
    assert store.owed_notes("r1") == ["a", "b"] and store.summary("a") is None
    assert [(c, closed) for c, _s, closed in bus.published] == [("a", False), ("b", False)]
    store.create_call("b", language="ja", source="websocket", legs=["customer"], worker_id="w-new")  # reopened
    await _reaper("r2", store, bus, FakeBeats({"r2", "w-new"})).reap()  # r1 died meanwhile
    assert store.owed_notes("r1") == [] and store.owed_notes("r2") == []
    assert store.summary("a") is not None and [e["type"] for e in store.events_after("a", 2)] == ["status", "summary"]
    assert store.summary("b") is None and store.get_call("b").state == "live", "b runs again: not touched"
    assert bus.published[-1] == ("a", [4], True)
    store.close()


async def test_start_up_takes_back_its_own_calls_and_waits_for_others_heartbeats(store_target: StoreTarget) -> None:
    store = CallStore(store_target("calls.db"))
    _call(store, "own", "w1")
    _call(store, "quiet", "w2")
    _call(store, "legacy", None)
    bus, beats = RecordingBus(), FakeBeats({"w1"}, confirm_s=0.3)
    reaper = _reaper("w1", store, bus, beats)
    await reaper.reap(startup=True)
    states = {c.id: c.state for c in store.list_calls()}
    assert states == {"own": "interrupted", "legacy": "interrupted", "quiet": "live"}, "w2 not confirmed dead yet"
    assert store.summary("own") is None, "notes are not written at start-up"
    await reaper.reap()
    assert store.summary("own") is not None and store.get_call("quiet").state == "live"
    await asyncio.sleep(0.35)
    await reaper.reap()
    assert store.get_call("quiet").state == "interrupted", "missing for confirm_s: dead"

    _call(store, "blip", "w3")
    await reaper.reap()
    beats.alive_ids.add("w3")  # back within the window (a Redis restarted empty): alive
    await reaper.reap()
    beats.alive_ids.discard("w3")
    await reaper.reap()
    assert store.get_call("blip").state == "live", "its absence starts again from zero"

    _call(store, "alone", "w4")
    await _reaper("w5", store, RecordingBus(), FakeBeats({"w4"}), alone=True).reap(startup=True)
    assert store.get_call("alone").state == "interrupted", "alone on SQLite: every live call is a past one's"
    store.close()


# ---------------------------------------------------------------- a worker killed mid-call


def serve(home: str, port: int) -> None:
    """Worker "a" (a child process): the real app, scripted models, Redis from ASSIST_REDIS_URL."""
    sys.path.insert(0, str(HERE))
    import uvicorn
    from support.live import fake_stages

    from assist.app import create_app
    from assist.logging_setup import setup_logging
    from assist.services import Services

    setup_logging("INFO")
    settings = Settings(home=Path(home), auth={"mode": "open"},
                        server={"preload_models": False, "worker_id": "a", **FAST})
    services = Services(settings, stages=fake_stages({"customer": CUSTOMER}, RESPONSES))
    uvicorn.run(create_app(settings, services), host="127.0.0.1", port=port, log_config=None)


@dataclass
class Widget:
    """What assist/static/js/events.js does, in Python: follow the call, and when the socket closes before the
    notes, reconnect (through the balancer: here, to the next URL) with ``after_seq`` of the last event seen."""

    call_id: str
    urls: list[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    received: list[int] = field(default_factory=list)  # every seq the server sent, duplicates included
    connections: list[str] = field(default_factory=list)

    @property
    def last(self) -> int:
        return self.events[-1]["seq"] if self.events else 0

    async def follow(self) -> None:
        attempt = 0
        while not self.events or self.events[-1]["type"] != "summary":
            url = self.urls[min(attempt, len(self.urls) - 1)]
            attempt += 1
            self.connections.append(url)
            try:
                async with websockets.connect(f"{url}/ws/calls/{self.call_id}/events?wait=1&after_seq={self.last}",
                                              open_timeout=5) as ws:
                    async for message in ws:
                        event = json.loads(message)
                        assert event["type"] != "error", event
                        self.received.append(event["seq"])
                        if event["seq"] > self.last:
                            self.events.append(event)
            except (websockets.ConnectionClosed, OSError):
                pass
            await asyncio.sleep(0.1)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    from support.redis_server import redis_or_skip

    with redis_or_skip(tmp_path / "redis") as url:
        yield url


async def test_publishing_a_dead_workers_events_fills_the_wall_and_ends_the_stream(tmp_path: Path,
                                                                                    redis_url: str) -> None:
    from assist.bus import open_bus
    from assist.hub import CLOSED, stored_backlog

    store = CallStore(tmp_path / "assist.db")
    bus = await open_bus(Settings(home=tmp_path, redis_url=redis_url), store)
    try:
        _call(store, "c", "w-dead", utterances=["一", "二", "三", "四"])  # seqs 1-5 committed
        for env in stored_backlog(store, "c", 0)[:3]:
            bus.send(env)  # the dead worker wrote 1-3 to Redis, never 4-5
        store.add_events([("c", 6, "status", 9.0, json.dumps({"type": "status", "seq": 6}))])  # the reaper's
        await bus.publish_stored("c", stored_backlog(store, "c", 5), closed=False)
        await bus.publish_stored("c", [], closed=True)  # notes could not be written: the end all the same
        assert await bus.publisher.flush()
        wall = [int(f["s"]) for _id, f in await bus.client.xrange("assist:wall") if f["c"] == "c"]
        assert wall == [1, 2, 3, 4, 5, 6], "what the dead worker never sent, then the new event, once each"
        assert [i for i, _f in await bus.client.xrange("assist:call:c")][-2:] == ["6-0", "6-1"], "then the end"
        sub, _ = bus.remote_call("c").subscribe(2)
        async with asyncio.timeout(10):
            got = [await sub.queue.get() for _ in range(5)]
        assert [e.seq for e in got[:4]] == [3, 4, 5, 6] and got[4] is CLOSED
    finally:
        await bus.close()
        store.close()


@pytest.mark.slow
async def test_a_killed_workers_call_ends_interrupted_with_notes_and_its_widgets_resume(
        tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from support.live import LiveServer, connect, fake_stages, recv_json
    from support.server_process import start_server

    from assist.services import Services

    monkeypatch.setenv("ASSIST_REDIS_URL", redis_url)
    settings = Settings(home=tmp_path, redis_url=redis_url, auth={"mode": "open"},
                        server={"preload_models": False, "worker_id": "b", **FAST})
    call_id = "killed-1"
    proc, port = start_server(tmp_path, tmp_path / "a.log", Path(__file__))
    a_url = f"ws://127.0.0.1:{port}"
    try:
        with LiveServer(settings, Services(settings, stages=fake_stages({"customer": CUSTOMER}, RESPONSES))) as b:
            on_a, on_b = Widget(call_id, [a_url, b.url]), Widget(call_id, [b.url])
            async with await connect(f"{b.url}/ws/events") as wall:
                followers = [asyncio.create_task(w.follow()) for w in (on_a, on_b)]
                await asyncio.sleep(0.3)  # both widgets wait for the call before it starts
                async with websockets.connect(f"{a_url}/ws/calls/{call_id}/audio", open_timeout=5) as audio:
                    await audio.send(json.dumps({"type": "start", "encoding": "pcm16", "sample_rate": 16000,
                                                 "leg": "customer"}))
                    for _ in range(3 * 25):  # 1.5 s of audio: the scripted recognizer finishes 3 utterances
                        await audio.send(b"\x00\x00" * 320)
                    async with asyncio.timeout(20):
                        while sum(e["type"] == "suggestions" for e in on_a.events) < 3:
                            await asyncio.sleep(0.02)
                    before_kill = list(on_a.events)
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(10)
                async with asyncio.timeout(30):
                    await asyncio.gather(*followers)
                    wall_seqs: list[int] = []
                    while True:
                        event = await recv_json(wall)
                        if event["call_id"] == call_id:
                            wall_seqs.append(event["seq"])
                            if event["type"] == "summary":
                                break
            async with httpx.AsyncClient(base_url=b.http, timeout=10) as client:
                detail = (await client.get(f"/api/calls/{call_id}")).json()
            stored = [json.loads(body) for _s, _t, body in b.services.call_store.event_bodies_after(call_id, 0)]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    assert detail["state"] == "interrupted" and detail["end_reason"] == "interrupted" and detail["worker_id"] == "a"
    finals = [e for e in before_kill if e["type"] == "transcript" and e["final"]]
    assert len(finals) >= 3 and {(e["utterance_id"], e["text"]) for e in finals} <= {
        (u["utterance_id"], u["text"]) for u in detail["utterances"]}, "every final seen is stored"
    assert detail["summary"]["notes"]["inquiry"][0]["text"] == CUSTOMER[0], "notes from the stored utterances"

    seqs = [e["seq"] for e in stored]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [(e["type"], e.get("state")) for e in stored[-2:]] == [("status", "interrupted"), ("summary", None)]
    assert stored[: len(before_kill)] == before_kill, "what the widget saw before the kill is what is stored"
    for widget in (on_a, on_b):
        assert widget.events == stored, "every event, in order, no gap"
        assert widget.received == seqs, "and none sent twice"
    assert on_a.connections[0] == a_url and set(on_a.connections[1:]) == {b.url}, "resumed on worker b"
    assert on_b.connections == [b.url], "a widget on worker b just saw the call end"
    assert wall_seqs == seqs, "the supervisor wall on worker b has every event of the call"


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
