"""Delivery after commit, as the code enforces it: an event reaches subscribers only once its row is stored, a
failing write is retried (or, if it can never commit, the event is not delivered), and a full writer queue
pushes back on its producers instead of writing on the event loop."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from support.wait import wait_until

from assist.events import StatusEvent
from assist.hub import CallHub
from assist.store import CallStore
from assist.store_writer import StoreWriter


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CallStore]:
    store = CallStore(tmp_path / "calls.db")
    store.create_call("c", language="ja", source="websocket", legs=["customer"])
    yield store
    store.close()


def _writer(store: CallStore, **kwargs: int) -> StoreWriter:
    writer = StoreWriter(store, **kwargs)
    writer.RETRY_FIRST_S = 0.01  # retries in milliseconds, not the production backoff
    return writer


async def test_an_event_waits_for_its_failing_write_to_commit(store: CallStore, monkeypatch, caplog) -> None:
    attempts: list[int] = []
    add_events = store.add_events

    def locked_twice(rows: Sequence[tuple[str, int, str, float, str]]) -> None:
        attempts.append(rows[0][1])  # the event's seq
        if len(attempts) <= 2:
            raise sqlite3.OperationalError("database is locked")
        add_events(rows)

    monkeypatch.setattr(store, "add_events", locked_twice)
    writer = _writer(store)
    hub = CallHub("c", loop=asyncio.get_running_loop(), writer=writer, queue_size=8)
    sub, _ = hub.subscribe(0)
    with caplog.at_level(logging.WARNING, logger="assist.store"):
        hub.publish(StatusEvent(call_id="c", state="live"))
        hub.publish(StatusEvent(call_id="c", state="live"))
        first = await asyncio.wait_for(sub.queue.get(), 5)
    assert first.seq == 1 and attempts[:3] == [1, 1, 1], "delivered only after the third attempt committed"
    assert store.last_seq("c") >= 1 and "retrying" in caplog.text
    assert (await asyncio.wait_for(sub.queue.get(), 5)).seq == 2, "later events keep their order"
    await hub.drained()
    assert store.last_seq("c") == 2 and attempts == [1, 1, 1, 2], "the second write waited behind the first"
    writer.close()


async def test_a_write_that_can_never_commit_is_not_delivered(store: CallStore, monkeypatch) -> None:
    def broken(rows: object) -> None:
        raise ValueError("a bug in the write")

    monkeypatch.setattr(store, "add_events", broken)
    writer = _writer(store)
    hub = CallHub("c", loop=asyncio.get_running_loop(), writer=writer, queue_size=8)
    sub, _ = hub.subscribe(0)
    hub.publish(StatusEvent(call_id="c", state="live"))
    await asyncio.wait_for(hub.drained(), 5)  # the hub stops waiting for it, so the call can still close
    assert sub.queue.empty() and store.last_seq("c") == 0
    writer.close()


async def test_a_full_queue_pushes_back_without_writing_on_the_loop(store: CallStore) -> None:
    writer = _writer(store, max_queue=2)
    gate = threading.Event()
    writer.submit(lambda _s: gate.wait(10))  # the disk stalls
    wait_until(lambda: writer.depth() == 0, 5, "the writer thread to take the stalled write")
    ran_on: list[str] = []
    for _ in range(5):
        writer.submit(lambda _s: ran_on.append(threading.current_thread().name))
    assert ran_on == [] and writer.depth() == 5, "submit queues; it never writes on the caller's thread"
    room = asyncio.ensure_future(writer.room())
    await asyncio.sleep(0)
    assert not room.done(), "producers that can wait are held while the queue is full"
    gate.set()
    await asyncio.wait_for(room, 5)
    writer.flush()
    assert ran_on == ["call-store-writer"] * 5
    await asyncio.wait_for(writer.room(), 1)  # room at once when the queue is short
    writer.close()


def test_close_gives_up_on_a_write_that_keeps_failing(store: CallStore) -> None:
    writer = _writer(store)
    failed = threading.Event()

    def always_locked(_s: CallStore) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    writer.submit(always_locked, failed=failed.set)
    writer.close(timeout=0.2)
    assert failed.wait(5), "shutdown is not held forever; the write's failure is reported"
