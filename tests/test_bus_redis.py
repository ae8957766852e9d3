"""Events across workers on a real redis-server: two buses (two "workers") on one Redis and one database.

What one worker's hub delivers, a subscriber on the other receives in order with the same seqs; resumes with
``after_seq`` and late subscribers get the backlog, from Redis or, for what Redis no longer holds, from the
database; the supervisor wall and the notices (KB change, key revocation) cross workers too.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError
from support.redis_server import redis_or_skip, skip_without_redis

from assist.bus import BusError, open_bus
from assist.events import StatusEvent, TranscriptEvent
from assist.hub import CLOSED, CallHub, Envelope
from assist.store import CallStore
from assist.store_writer import StoreWriter
from config import Settings


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_or_skip(tmp_path_factory.mktemp("redis")) as url:
        yield url


@dataclass
class Worker:
    """One worker's share of the cluster: its own connection to the shared database, its own bus."""

    store: CallStore
    writer: StoreWriter
    bus: Any  # RedisBus (importable only where the redis client is installed)

    def open_call(self, call_id: str, first_seq: int = 1) -> CallHub:
        if self.store.get_call(call_id) is None:
            self.store.create_call(call_id, language="ja", source="websocket", legs=["customer"], metadata={})
        return self.bus.open_call(call_id, loop=asyncio.get_running_loop(), writer=self.writer, first_seq=first_seq)


@asynccontextmanager
async def workers(tmp_path: Path, url: str, n: int = 2, **bus_options: int) -> AsyncIterator[list[Worker]]:
    settings = Settings(home=tmp_path, redis_url=url)
    started: list[Worker] = []
    try:
        for _ in range(n):
            store = CallStore(tmp_path / "assist.db")
            bus = await open_bus(settings, store)
            for name, value in bus_options.items():
                setattr(bus, name, value)
            started.append(Worker(store, StoreWriter(store), bus))
        yield started
    finally:
        for w in started:
            await w.bus.close()
            w.writer.close()
            w.store.close()


async def take(queue: asyncio.Queue[Envelope], n: int, timeout_s: float = 10.0) -> list[Envelope]:
    async with asyncio.timeout(timeout_s):
        return [await queue.get() for _ in range(n)]


async def publish(hub: CallHub, n: int) -> None:
    for _ in range(n):
        hub.publish(StatusEvent(call_id=hub.call_id, state="live"))
    await hub.drained()


def new_id() -> str:
    return f"c-{uuid.uuid4().hex[:8]}"


async def test_events_of_one_worker_reach_the_other_in_order_then_closed(tmp_path: Path, redis_url: str) -> None:
    async with workers(tmp_path, redis_url) as (a, b):
        call_id = new_id()
        hub = a.open_call(call_id)
        sub, backlog = b.bus.remote_call(call_id).subscribe(0)
        assert backlog == []
        await publish(hub, 200)
        got = await take(sub.queue, 200)
        assert [e.seq for e in got] == list(range(1, 201)), "every event, in order, with the publisher's seqs"
        stored = {seq: body for seq, _t, body in a.store.event_bodies_after(call_id, 0)}
        assert all(e.json == stored[e.seq] and e.call_id == call_id and e.type == "status" for e in got)
        await hub.close()
        assert await asyncio.wait_for(sub.queue.get(), 10) is CLOSED, "the call's end reaches the other worker"


async def test_resume_and_late_subscriber_across_workers(tmp_path: Path, redis_url: str) -> None:
    async with workers(tmp_path, redis_url) as (a, b):
        call_id = new_id()
        hub = a.open_call(call_id)
        await publish(hub, 50)
        feed = b.bus.remote_call(call_id)
        resumed, _ = feed.subscribe(30)
        late, _ = feed.subscribe(0)
        assert [e.seq for e in await take(resumed.queue, 20)] == list(range(31, 51))
        assert [e.seq for e in await take(late.queue, 50)] == list(range(1, 51)), "the backlog from the start"
        await publish(hub, 10)
        assert [e.seq for e in await take(resumed.queue, 10)] == list(range(51, 61)), "then live events"
        assert [e.seq for e in await take(late.queue, 10)] == list(range(51, 61))
        feed.unsubscribe(resumed)
        feed.unsubscribe(late)
        await hub.close()
        ended, _ = feed.subscribe(55)  # a widget resuming an ended call: the rest, then closed
        got = await take(ended.queue, 6)
        assert [e.seq for e in got[:5]] == [56, 57, 58, 59, 60] and got[5] is CLOSED


async def test_what_redis_no_longer_holds_comes_from_the_database(tmp_path: Path, redis_url: str) -> None:
    async with workers(tmp_path, redis_url, call_maxlen=20) as (a, b):
        call_id = new_id()
        hub = a.open_call(call_id)
        await publish(hub, 350)
        assert await a.bus.publisher.flush()
        client = a.bus.client
        first = (await client.xrange(f"assist:call:{call_id}", count=1))[0][0]
        assert int(first.split("-")[0]) > 1, "the stream was trimmed"
        await client.xdel(f"assist:call:{call_id}", "340-0", "341-0")  # holes in the middle, as after a redaction
        sub, _ = b.bus.remote_call(call_id).subscribe(0)
        assert [e.seq for e in await take(sub.queue, 350)] == list(range(1, 351))


async def test_redacted_events_are_read_again_from_the_database(tmp_path: Path, redis_url: str) -> None:
    async with workers(tmp_path, redis_url) as (a, b):
        call_id = new_id()
        hub = a.open_call(call_id)
        for uid, text in (("c0", "カード番号は1234"), ("c1", "5678です")):
            hub.publish(TranscriptEvent(call_id=call_id, leg="customer", utterance_id=uid, text=text, final=True,
                                        start=0.0, end=1.0))
        await publish(hub, 1)
        a.store.redact_utterance(call_id, "c0", "カード番号は[カード番号]")  # what the session does, then the hub
        hub.redact("c0", "カード番号は[カード番号]")
        assert await a.bus.publisher.flush()
        sub, _ = b.bus.remote_call(call_id).subscribe(0)
        got = await take(sub.queue, 3)
        assert [e.seq for e in got] == [1, 2, 3]
        assert json.loads(got[0].json)["text"] == "カード番号は[カード番号]", "never the first version"
        assert json.loads(got[1].json)["text"] == "5678です"


async def test_the_wall_shows_every_workers_calls(tmp_path: Path, redis_url: str) -> None:
    async with workers(tmp_path, redis_url) as (a, b):
        on_b, on_a = b.bus.supervisor.subscribe(), a.bus.supervisor.subscribe()
        for w in (a, b):
            await asyncio.wait_for(w.bus.supervisor.following.wait(), 5)
        calls = [new_id(), new_id()]
        hubs = [a.open_call(calls[0]), b.open_call(calls[1])]
        for _ in range(30):
            for hub in hubs:
                hub.publish(StatusEvent(call_id=hub.call_id, state="live"))
        for hub in hubs:
            await hub.drained()
        for sub in (on_a, on_b):
            seen: dict[str, list[int]] = {}
            async with asyncio.timeout(10):
                while sum(len(s) for s in seen.values()) < 60:
                    env = await sub.queue.get()
                    if env.call_id in calls:
                        seen.setdefault(env.call_id, []).append(env.seq)
            assert seen == {c: list(range(1, 31)) for c in calls}, "both calls, each in order, no gap"


async def test_a_waiting_subscription_sees_a_call_start_on_another_worker(tmp_path: Path, redis_url: str) -> None:
    async with workers(tmp_path, redis_url) as (a, b):
        call_id = new_id()
        waiting = asyncio.ensure_future(b.bus.first_event(call_id))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        await publish(a.open_call(call_id), 1)
        await asyncio.wait_for(waiting, 10)


async def test_notices_reach_the_other_worker_within_a_second(tmp_path: Path, redis_url: str) -> None:
    from assist.notices import install

    async with workers(tmp_path, redis_url) as (a, b):
        loop = asyncio.get_running_loop()
        closed: dict[str, list[str]] = {"a": [], "b": []}

        class FakeRetrieval:
            ready = True

            def __init__(self) -> None:
                self.revision = 1
                self.listeners: list[Callable[[], None]] = []
                self.refreshed = asyncio.Event()

            def refresh(self) -> bool:
                self.revision = 2
                for fn in self.listeners:  # the real service tells its listeners after every swap
                    fn()
                loop.call_soon_threadsafe(self.refreshed.set)
                return True

        def fake_services() -> SimpleNamespace:
            retrieval = FakeRetrieval()
            return SimpleNamespace(retrieval=retrieval, on_index_change=retrieval.listeners.append)

        def fake_auth(name: str) -> SimpleNamespace:
            return SimpleNamespace(sockets=SimpleNamespace(close_key=lambda k: closed[name].append(k) or 1))

        services_a, services_b = fake_services(), fake_services()
        kb_a = install(a.bus, services_a, fake_auth("a"), loop)
        kb_b = install(b.bus, services_b, fake_auth("b"), loop)
        assert kb_a is not None and kb_b is not None
        spy = a.bus.client.pubsub(ignore_subscribe_messages=True)
        await spy.subscribe("assist:kb")

        started = loop.time()
        await a.bus.notify("key_revoked", "k1")
        async with asyncio.timeout(5):
            while not closed["b"]:
                await asyncio.sleep(0.01)
        assert loop.time() - started < 1.0 and closed == {"a": [], "b": ["k1"]}, "the others, not the sender"

        services_a.retrieval.revision = 2  # an article written through worker a's API
        kb_a.changed_here()
        await asyncio.wait_for(services_b.retrieval.refreshed.wait(), 1.0)
        assert kb_b.seen == 2 and services_b.retrieval.revision == 2
        heard = []
        deadline = loop.time() + 1.0  # long enough for an echo to come back
        while loop.time() < deadline:
            msg = await spy.get_message(timeout=0.1)
            if msg is not None:
                heard.append(json.loads(msg["data"]))
        await spy.aclose()
        assert [m["value"] for m in heard] == ["2"], "announced once; a refresh caused by a notice is not echoed"
        assert not services_a.retrieval.refreshed.is_set()


async def test_unreachable_redis_is_a_coded_error(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    with pytest.raises(BusError) as err:
        await open_bus(Settings(home=tmp_path, redis_url=f"redis://:secret@127.0.0.1:{port}/0"), CallStore(
            tmp_path / "assist.db"))
    assert err.value.code == "redis_unavailable" and "secret" not in err.value.message


async def test_a_missing_client_library_is_a_coded_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "redis", None)  # as if the `scale` extra were not installed
    monkeypatch.delitem(sys.modules, "assist.bus_redis", raising=False)
    with pytest.raises(BusError) as err:
        await open_bus(Settings(home=tmp_path, redis_url="redis://127.0.0.1:6379/0"), CallStore(tmp_path / "a.db"))
    assert err.value.code == "redis_missing" and "[scale]" in err.value.message


def test_redis_url_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings(home=tmp_path).redis_url is None, "unset: one process, events in memory"
    monkeypatch.setenv("ASSIST_REDIS_URL", "redis://redis:6379/1")
    assert Settings(home=tmp_path).redis_url == "redis://redis:6379/1"
    for bad in ("http://redis:6379", "redis://", "redis://redis:99999/0", "redis://redis/db0"):
        monkeypatch.setenv("ASSIST_REDIS_URL", bad)
        with pytest.raises(ValidationError) as err:
            Settings(home=tmp_path)
        assert [e["type"] for e in err.value.errors()] == ["bad_redis_url"], bad



async def test_sockets_on_one_worker_follow_a_call_streamed_into_another(tmp_path: Path, redis_url: str) -> None:
    """The real app twice (two workers, one database, one Redis): the call's audio goes to worker a, its widget
    and the supervisor wall are on worker b."""
    from support.live import LiveServer, connect, fake_stages, recv_all, recv_json, silence

    from assist.replay import replay_call
    from assist.services import Services

    settings = Settings(home=tmp_path, redis_url=redis_url, server={"preload_models": False},
                        auth={"mode": "open"})
    scripts, responses = {"customer": ["カードをなくしました", "再発行したい"]}, {"カードをなくしました": ["lost-card"]}
    call_id = new_id()
    with LiveServer(settings, Services(settings, stages=fake_stages(scripts, responses))) as a, \
            LiveServer(settings, Services(settings, stages=fake_stages(scripts, responses))) as b:
        async with await connect(f"{b.url}/ws/events") as wall, \
                await connect(f"{b.url}/ws/calls/{call_id}/events?wait=1") as widget:
            await asyncio.sleep(0.2)  # both sockets are subscribed before the call starts
            on_a = await replay_call(a.url, call_id, {"customer": silence(1.1)}, realtime=False, timeout_s=20)
            on_b = await recv_all(widget)  # until worker b closes it: the call ended on worker a
            wall_seqs: list[int] = []
            async with asyncio.timeout(10):
                while not wall_seqs or wall_seqs[-1] < on_a[-1]["seq"]:
                    event = await recv_json(wall)
                    if event["call_id"] == call_id:
                        wall_seqs.append(event["seq"])
        stored = [seq for seq, _t, _b in a.services.call_store.event_bodies_after(call_id, 0)]
        async with await connect(f"{b.url}/ws/calls/{call_id}/events?after_seq=3") as resumed:
            after_end = await recv_all(resumed)
    assert [e["type"] for e in on_a][:1] == ["call_started"] and on_a[-1]["type"] == "summary"
    assert {e["type"] for e in on_a} >= {"transcript", "suggestions", "call_ended"}
    assert on_b == on_a, "worker b's widget saw exactly what worker a's did"
    assert [e["seq"] for e in on_b] == stored == list(range(1, len(stored) + 1)), "in order, no gap, all stored"
    assert wall_seqs == stored, "the wall on worker b has every event of worker a's call"
    assert [e["seq"] for e in after_end] == stored[3:]



async def test_a_redis_restart_loses_no_event(tmp_path: Path) -> None:
    """Redis restarts empty mid-call: queued writes wait and go out in order once it is back (the publish script
    is loaded again), followers and the notice listener reconnect, and what the new Redis never had comes from
    the database."""
    from eval.local_redis import LocalRedis

    skip_without_redis()
    first = LocalRedis(tmp_path / "r1")
    second = LocalRedis(tmp_path / "r2")
    try:
        url = first.start()
        async with workers(tmp_path, url) as (a, b):
            call_id = new_id()
            hub = a.open_call(call_id)
            sub, _ = b.bus.remote_call(call_id).subscribe(0)
            await publish(hub, 20)
            assert [e.seq for e in await take(sub.queue, 20)] == list(range(1, 21))
            first.stop()
            await publish(hub, 10)  # delivered here, queued for Redis
            await asyncio.sleep(0.5)
            second.port = first.port
            second.start()
            await publish(hub, 10)
            assert [e.seq for e in await take(sub.queue, 20, timeout_s=30)] == list(range(21, 41))
            late, _ = b.bus.remote_call(call_id).subscribe(0)
            assert [e.seq for e in await take(late.queue, 40)] == list(range(1, 41)), "1-20 from the database"
            heard: list[str] = []

            async def on_revoked(key_id: str) -> None:
                heard.append(key_id)

            b.bus.on_notice("key_revoked", on_revoked)
            async with asyncio.timeout(15):
                while not heard:  # the listener may still be reconnecting: announce until it hears
                    await a.bus.notify("key_revoked", "k9")
                    await asyncio.sleep(0.2)
            await hub.close()
            assert await asyncio.wait_for(sub.queue.get(), 10) is CLOSED
    finally:
        first.stop()
        second.stop()


@pytest.mark.slow
def test_bus_load_measures_a_short_run(tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from eval.bus_load import main

    assert main(["--redis-url", redis_url, "--rate", "500", "--seconds", "1", "--calls", "5", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["published"] == report["delivered"] == report["wall_delivered"] == 500
    assert report["gaps"] == report["out_of_order"] == 0 and report["lag_p95_ms"] is not None
