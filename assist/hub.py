"""Event fan-out: per-call streams with sequence numbers and replay, plus the all-calls supervisor feed.

Publishing never waits for a subscriber: each has a bounded queue, and one that is full is dropped
(it gets ``lagging`` and reconnects with ``after_seq``). Events are fanned out only after the store
committed them, so whatever a widget has seen survives a crash and can be replayed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from assist import metrics
from assist.events import OutboundEvent
from assist.store import CallStore, redact_event_body
from assist.store_writer import StoreWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Envelope:
    """One serialized event: JSON is built once and shared by every subscriber."""

    call_id: str
    seq: int
    type: str
    json: str


LAGGING = Envelope("", -1, "lagging", "")
CLOSED = Envelope("", -2, "closed", "")


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue[Envelope]
    last_seq: int = 0
    lagging: bool = False

    def offer(self, env: Envelope) -> bool:
        """Queue without waiting; on overflow the backlog is discarded and the subscriber told to resync."""
        if self.lagging:
            return False
        try:
            self.queue.put_nowait(env)
            return True
        except asyncio.QueueFull:
            self.lagging = True
            metrics.SUBSCRIBERS_LAGGED.inc()
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(LAGGING)
            return False


class Broadcaster:
    """Subscribers without replay (the supervisor feed)."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()

    def subscribe(self) -> Subscriber:
        sub = Subscriber(asyncio.Queue(self.queue_size))
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def fanout(self, env: Envelope) -> None:
        for sub in list(self.subscribers):
            if not sub.offer(env):
                self.subscribers.discard(sub)


class CallHub:
    """One call's numbered event stream. Create and use on the event loop only."""

    def __init__(self, call_id: str, *, loop: asyncio.AbstractEventLoop, writer: StoreWriter | None,
                 queue_size: int, first_seq: int = 1, memory: int = 2000,
                 supervisor: Broadcaster | None = None) -> None:
        self.call_id = call_id
        self._loop = loop
        self._writer = writer
        self._next_seq = first_seq
        self._recent: deque[Envelope] = deque(maxlen=memory)
        self._subs = Broadcaster(queue_size)
        self._supervisor = supervisor
        self._in_flight = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self.closed = False

    @property
    def last_seq(self) -> int:
        return self._next_seq - 1

    @property
    def subscriber_count(self) -> int:
        return len(self._subs.subscribers)

    def publish(self, event: OutboundEvent) -> int:
        """Number, persist, then fan out ``event``; returns its seq. Delivery waits for the row's commit
        (``StoreWriter``), so a subscriber never sees an event the store does not hold."""
        event.call_id = self.call_id
        event.seq = self._next_seq
        self._next_seq += 1
        env = Envelope(self.call_id, event.seq, event.type, event.model_dump_json())
        if self._writer is None:
            self._deliver(env)
            return env.seq
        self._in_flight += 1
        self._drained.clear()
        row = (env.call_id, env.seq, env.type, event.ts, env.json)
        self._writer.submit(lambda store: store.add_events([row]),
                            lambda: self._loop.call_soon_threadsafe(self._deliver, env),
                            failed=lambda: self._loop.call_soon_threadsafe(self._settle))
        return env.seq

    def _settle(self) -> None:
        """One published event is delivered, or its row can never be stored (then it is not delivered)."""
        if self._writer is not None:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._drained.set()

    def _deliver(self, env: Envelope) -> None:
        self._settle()
        self._recent.append(env)
        self._subs.fanout(env)
        if self._supervisor is not None:
            self._supervisor.fanout(env)

    async def drained(self) -> None:
        """Wait until every published event has been delivered."""
        await self._drained.wait()

    def subscribe(self, after_seq: int) -> tuple[Subscriber, list[Envelope] | None]:
        """Register for live events; the backlog after ``after_seq`` comes from memory, or ``None`` when
        memory no longer reaches back that far (read it from the store; duplicates are skipped by seq)."""
        sub = self._subs.subscribe()
        sub.last_seq = after_seq
        if self.closed:
            sub.offer(CLOSED)
        if not self._recent or self._recent[0].seq <= after_seq + 1:
            return sub, [e for e in self._recent if e.seq > after_seq]
        return sub, None

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subs.unsubscribe(sub)

    def shrink(self, keep: int) -> None:
        """Keep only the last ``keep`` events in memory: an ended call's widgets rarely resume, and those
        that do read the rest from the store, so a hundred ended calls do not each hold their whole stream."""
        self._recent = deque(self._recent, maxlen=keep)  # a bounded deque keeps the newest

    def redact(self, utterance_id: str, text: str, fragments: Sequence[tuple[str, str]] = ()) -> None:
        """Rewrite the remembered events of an utterance masked after the fact, as the store's copy was
        (``CallStore.redact_utterance``), so a widget replaying from memory never sees the first version."""
        for i, env in enumerate(self._recent):
            if env.type in ("transcript", "suggestions"):
                body = redact_event_body(env.type, env.json, utterance_id, text, fragments)
                if body is not None:
                    self._recent[i] = Envelope(env.call_id, env.seq, env.type, body)

    async def close(self) -> None:
        """No more events: once every published event is delivered, subscribers are closed."""
        await self.drained()
        self.closed = True
        self._subs.fanout(CLOSED)


def stored_backlog(store: CallStore, call_id: str, after_seq: int) -> list[Envelope]:
    """Events of a call from the store (run in an executor)."""
    return [Envelope(call_id, seq, type_, body) for seq, type_, body in store.event_bodies_after(call_id, after_seq)]
