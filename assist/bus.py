"""The event bus: where a worker's call hubs and supervisor feed come from, and how workers tell each other
about changes (knowledge base, revoked keys).

``MemoryBus`` is the one-process bus: ``assist.hub``'s ``CallHub`` and ``Broadcaster`` as they are, and
notices that go nowhere (there is no other worker). With ``ASSIST_REDIS_URL`` set, ``open_bus`` returns the
Redis bus (``assist/bus_redis.py``): every call's events also go to a Redis Stream, so the sockets of any
worker follow calls running on any other (docs/ARCHITECTURE.md, "Events across workers").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, Protocol

from assist.hub import Broadcaster, CallHub, Envelope, Subscriber
from assist.store import CallStore
from assist.store_writer import StoreWriter
from common.errors import CodedError
from config import Settings

log = logging.getLogger(__name__)

# Cluster notices: what one worker changed and every other one must apply. On Redis each is a pub/sub channel.
Notice = Literal["kb_changed", "key_revoked"]
NoticeHandler = Callable[[str], Awaitable[None]]


class BusError(CodedError):
    """The configured bus cannot be used: ``redis_missing`` (the client library), ``redis_unavailable``."""


class CallFeed(Protocol):
    """What an events socket needs of a call's numbered stream, wherever the call runs."""

    def subscribe(self, after_seq: int) -> tuple[Subscriber, list[Envelope] | None]:
        """A subscriber for events after ``after_seq``, and the backlog (``None``: read it from the store)."""
        ...

    def unsubscribe(self, sub: Subscriber) -> None: ...


class EventBus(Protocol):
    """Created on the event loop at start-up (``open_bus``); every method runs on that loop."""

    @property
    def supervisor(self) -> Broadcaster:
        """The all-calls feed of ``/ws/events``: every hub fans its delivered events out to it."""
        ...

    @property
    def distributed(self) -> bool:
        """True when other workers share this bus (their calls can be followed here)."""
        ...

    def open_call(self, call_id: str, *, loop: asyncio.AbstractEventLoop, writer: StoreWriter | None,
                  first_seq: int) -> CallHub:
        """The hub of a call this worker runs."""
        ...

    def remote_call(self, call_id: str) -> CallFeed | None:
        """A feed of a call run by another worker; ``None`` when no other worker can be reached."""
        ...

    async def first_event(self, call_id: str) -> None:
        """Return once any worker has delivered an event of ``call_id`` (waiting subscriptions)."""
        ...

    async def publish_stored(self, call_id: str, events: Sequence[Envelope], *, closed: bool) -> None:
        """Deliver ``events`` (already committed) of a call no hub runs: a dead worker's, taken over by this
        worker's reaper (``assist/reaper.py``); ``closed``: the call's stream ends after them."""
        ...

    def on_notice(self, notice: Notice, handler: NoticeHandler) -> None:
        """Run ``handler(value)`` when another worker announces ``notice``."""
        ...

    async def notify(self, notice: Notice, value: str) -> None:
        """Tell the other workers (never this one) about a change this worker made."""
        ...

    async def close(self) -> None: ...


class MemoryBus:
    """One process: the in-memory hubs, unchanged; nobody else to notify."""

    distributed = False

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self.supervisor = Broadcaster(queue_size)

    def open_call(self, call_id: str, *, loop: asyncio.AbstractEventLoop, writer: StoreWriter | None,
                  first_seq: int) -> CallHub:
        return CallHub(call_id, loop=loop, writer=writer, queue_size=self.queue_size, first_seq=first_seq,
                       supervisor=self.supervisor)

    def remote_call(self, call_id: str) -> CallFeed | None:
        return None

    async def first_event(self, call_id: str) -> None:
        await asyncio.Event().wait()  # no other worker: only a local start (CallManager's waiters) ends the wait

    async def publish_stored(self, call_id: str, events: Sequence[Envelope], *, closed: bool) -> None:
        for env in events:  # nobody follows a call no hub runs here; the wall shows the change
            self.supervisor.fanout(env)

    def on_notice(self, notice: Notice, handler: NoticeHandler) -> None:
        pass

    async def notify(self, notice: Notice, value: str) -> None:
        pass

    async def close(self) -> None:
        pass


async def open_bus(settings: Settings, store: CallStore) -> EventBus:
    """The bus ``settings`` ask for, started: Redis when ``redis_url`` is set, else in memory."""
    if settings.redis_url is None:
        return MemoryBus(settings.server.subscriber_queue)
    try:
        from assist.bus_redis import RedisBus  # the optional `scale` extra; only a configured worker needs it
    except ModuleNotFoundError as exc:
        if exc.name != "redis" and not (exc.name or "").startswith("redis."):
            raise
        raise BusError("redis_missing", "ASSIST_REDIS_URL is set but the Redis client is not installed: "
                       "pip install 'agent-assist[scale]'") from exc

    bus = RedisBus(settings.redis_url, store, queue_size=settings.server.subscriber_queue)
    await bus.start()
    return bus
