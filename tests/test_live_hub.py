"""The event hub never waits for a subscriber: a slow one is dropped and told to resync."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from support.live import connect, recv_json

from assist.events import StatusEvent
from assist.hub import LAGGING, CallHub
from assist.store import CallStore
from assist.store_writer import StoreWriter


async def test_slow_subscriber_is_dropped_without_stalling_the_call(tmp_path: Path) -> None:
    store = CallStore(tmp_path / "calls.db")
    store.create_call("c", language="ja", source="websocket", legs=["customer"])
    writer = StoreWriter(store)
    hub = CallHub("c", loop=asyncio.get_running_loop(), writer=writer, queue_size=8)
    slow, backlog = hub.subscribe(0)
    fast, _ = hub.subscribe(0)
    assert backlog == []
    received: list[int] = []

    async def read_fast() -> None:
        while len(received) < 50:
            received.append((await fast.queue.get()).seq)

    reader = asyncio.create_task(read_fast())
    for _ in range(50):
        hub.publish(StatusEvent(call_id="c", state="live"))
        await hub.drained()
        await asyncio.sleep(0)
    await asyncio.wait_for(reader, 5)
    assert received == list(range(1, 51)), "a fast subscriber gets every event in order"
    assert slow.lagging and slow.queue.qsize() == 1 and slow.queue.get_nowait() is LAGGING
    assert hub.subscriber_count == 1
    await hub.drained()
    assert store.last_seq("c") == 50, "every event is stored before it is fanned out"
    late, backlog = hub.subscribe(45)
    assert [e.seq for e in backlog or []] == [46, 47, 48, 49, 50]
    writer.close()


async def test_lagging_widget_gets_error_and_can_resume(live) -> None:
    srv = live({"customer": []}, {}, subscriber_queue=8)
    async with await connect(f"{srv.url}/ws/calls/lag/audio") as audio:
        await audio.send(json.dumps({"type": "start"}))
        async with await connect(f"{srv.url}/ws/calls/lag/events?wait=1") as events:
            assert (await recv_json(events))["type"] == "call_started"
            calls = srv.app.state.calls
            session = calls.get("lag")
            done = asyncio.Event()

            def flood() -> None:
                # holding the loop until every write committed queues all deliveries back to back, so the
                # widget's sender cannot drain between them: the overflow is certain, not a timing race
                for _ in range(400):
                    session.publish(session.status())
                calls.writer.flush()
                done.set()

            calls.loop.call_soon_threadsafe(flood)
            await asyncio.wait_for(done.wait(), 5)
            seen = []
            while True:
                event = await recv_json(events)
                if event["type"] == "error":
                    break
                seen.append(event["seq"])
            assert event["code"] == "lagging" and event["fatal"]
            assert seen == list(range(2, 2 + len(seen))), "no gap before the resync notice"
        async with await connect(f"{srv.url}/ws/calls/lag/events?after_seq={seen[-1] if seen else 1}") as again:
            first = await recv_json(again)
            assert first["seq"] == (seen[-1] if seen else 1) + 1
        await audio.send(json.dumps({"type": "stop"}))


async def test_supervisor_feed_sees_every_call(live) -> None:
    from support.live import silence

    from assist.replay import replay_call

    srv = live({"customer": ["カードをなくしました"]}, {"カードをなくしました": ["lost-card"]})
    async with await connect(f"{srv.url}/ws/events") as sup:
        await asyncio.gather(*(replay_call(srv.url, f"sup-{i}", {"customer": silence(0.6)}, realtime=False,
                                           timeout_s=20) for i in range(2)))
        seen: dict[str, list[str]] = {}
        while sum(t.count("summary") for t in seen.values()) < 2:
            event = await recv_json(sup)
            seen.setdefault(event["call_id"], []).append(event["type"])
    assert set(seen) == {"sup-0", "sup-1"}
    for types in seen.values():
        assert types[0] == "call_started" and "suggestions" in types and types[-2:] == ["call_ended", "summary"]


async def test_shrunk_hub_sends_older_resumes_to_the_store(tmp_path: Path) -> None:
    store = CallStore(tmp_path / "calls.db")
    store.create_call("s", language="ja", source="websocket", legs=["customer"])
    writer = StoreWriter(store)
    hub = CallHub("s", loop=asyncio.get_running_loop(), writer=writer, queue_size=8)
    for _ in range(100):
        hub.publish(StatusEvent(call_id="s", state="live"))
    await hub.drained()
    hub.shrink(10)
    _, backlog = hub.subscribe(95)
    assert [e.seq for e in backlog or []] == [96, 97, 98, 99, 100]
    _, backlog = hub.subscribe(50)
    assert backlog is None, "memory no longer reaches back: the caller reads the store"
    writer.close()
