"""The event bus on Redis: any worker's sockets follow calls running on any other worker.

Keys and channels (docs/SCALING.md, "Events on Redis"):

- ``assist:call:{id}``: one Stream per call. An event's entry id is ``{seq}-0``, so Redis orders and numbers
  the stream exactly as the call does; ``{seq}-1`` (type ``closed``) marks the call's end after event ``seq``
  (a reopened call goes on at ``{seq+1}-0``). ``MAXLEN ~`` trims it; an ended call's stream expires.
- ``assist:wall``: one Stream of every call's events (``c`` call id, ``s`` seq), read by ``/ws/events``.
- ``assist:kb`` and ``assist:keys:revoked``: pub/sub notices (``{"origin", "value"}``) that every other
  worker applies at once: a knowledge-base revision to refresh to, a revoked key whose sockets to close.

The delivery-after-commit rule holds across workers: an event reaches Redis only after its row committed
(``CallHub`` delivers it, then ``RedisCallHub`` queues the XADD), so Redis never holds an event the database
does not. A follower on another worker therefore fills any hole in a stream from the database: seqs trimmed
away, removed because they were redacted after the fact, or lost with a worker that died before its XADD.
Redis being down loses nothing either: the writes wait in order (bounded) and followers catch up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, cast
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

from assist import metrics
from assist.bus import BusError, CallFeed, Notice, NoticeHandler
from assist.hub import CLOSED, Broadcaster, CallHub, Envelope, Subscriber, stored_backlog
from assist.store import CallStore, redact_event_body
from assist.store_writer import StoreWriter

log = logging.getLogger(__name__)

WALL = "assist:wall"
CHANNELS: dict[Notice, str] = {"kb_changed": "assist:kb", "key_revoked": "assist:keys:revoked"}
CALL_MAXLEN = 10_000  # events a call's stream keeps; older resumes read the database
WALL_MAXLEN = 100_000  # the wall has no replay: this only bounds its memory
ENDED_TTL_S = 24 * 3600  # an ended call's stream, for late resumes; the database keeps the call forever
BLOCK_MS = 5_000  # one XREAD's wait; a cancelled follower leaves at once all the same
READ_COUNT = 500
BATCH = 512  # commands per pipeline round trip
MAX_PENDING = 200_000  # queued writes while Redis is unreachable; beyond, the oldest go (followers refill them)
_RETRY = (RedisConnectionError, RedisTimeoutError, OSError)
_Op = Callable[[Pipeline], object]
_Fields = dict[FieldT, EncodableT]
_Entries = list[tuple[str, dict[str, str]]]


def call_key(call_id: str) -> str:
    return f"assist:call:{call_id}"


def _entries(reply: Any) -> _Entries:
    """The entries of an XREAD or XRANGE reply on one stream (RESP2, decoded)."""
    if not reply:
        return []
    if isinstance(reply[0], (list, tuple)) and len(reply[0]) == 2 and isinstance(reply[0][1], list):
        return [entry for _stream, entries in reply for entry in entries]  # XREAD: [[stream, entries]]
    return cast(_Entries, reply)


class _Backoff:
    """Retries while Redis is unreachable: 50 ms doubling to 2 s; one log line per outage, not one per try
    (``quiet``: at debug level, for the many followers of one worker, whose publisher already warns)."""

    def __init__(self, what: str, *, quiet: bool = False) -> None:
        self.what = what
        self.level = logging.DEBUG if quiet else logging.WARNING
        self.delay = 0.0

    async def wait(self, exc: Exception) -> None:
        if not self.delay:
            log.log(self.level, "redis: %s failed (%s); retrying until it is back", self.what, exc)
        self.delay = min(max(self.delay * 2, 0.05), 2.0)
        await asyncio.sleep(self.delay)

    def reset(self) -> None:
        if self.delay:
            log.log(self.level, "redis: %s works again", self.what)
        self.delay = 0.0


def _evalsha(pipe: Pipeline, script: AsyncScript, keys_and_args: list[EncodableT]) -> object:
    """``script`` with two keys in ``pipe``; the pipeline loads it first if Redis lost it (a restart)."""
    pipe.scripts.add(script)  # type: ignore[arg-type]  # typed for the sync Script; load_scripts reads .sha/.script
    return pipe.evalsha(script.sha, 2, *keys_and_args)


def _entry_seq(entry_id: str) -> tuple[int, int]:
    major, _, minor = entry_id.partition("-")
    return int(major), int(minor or 0)


def redacted_url(url: str) -> str:
    """The URL without its password, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


class Publisher:
    """The worker's writes to Redis, one ordered queue: a call's events reach its stream in seq order, and
    ``publish`` never waits for Redis (the event loop only appends). Pipelined in batches of ``BATCH``."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._ops: deque[_Op] = deque()
        self._wake = asyncio.Event()
        self._busy = False
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.dropped = 0

    @property
    def pending(self) -> int:
        return len(self._ops)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="redis-publish")

    def submit(self, op: _Op) -> None:
        if len(self._ops) >= MAX_PENDING:
            self._ops.popleft()
            self.dropped += 1
            if self.dropped % 10_000 == 1:
                log.warning("redis unreachable: %d queued writes dropped so far (followers refill events from "
                            "the database)", self.dropped)
        self._ops.append(op)
        self._wake.set()

    async def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every queued write reached Redis; False at the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._ops or self._busy:
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        backoff = _Backoff("writing events")
        while True:
            if not self._ops:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._ops.popleft() for _ in range(min(BATCH, len(self._ops)))]
            self._busy = True
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for op in batch:
                        op(pipe)
                    results = await pipe.execute(raise_on_error=False)
            except _RETRY as exc:
                self._ops.extendleft(reversed(batch))  # in order, before anything queued meanwhile
                self._busy = False
                await backoff.wait(exc)
                continue
            except Exception:  # not Redis being away (a bug, a refused script): these writes cannot succeed
                self._busy = False
                self.dropped += len(batch)
                log.exception("redis: %d writes dropped (followers read those events from the database)",
                              len(batch))
                continue
            self._busy = False
            backoff.reset()
            self.sent += len(batch)
            for result in results:
                # a batch retried after its reply was lost finds its entries there already: nothing to do
                if isinstance(result, ResponseError) and "equal or smaller" not in str(result):
                    log.warning("redis refused a write: %s", result)
            metrics.QUEUE_DEPTH.labels("redis_publish").set(len(self._ops))


# One event into its call's stream and onto the wall, atomically: an entry the call's stream already holds (a
# batch retried after its reply was lost) is not added to the wall a second time. One command instead of two
# also halves the client's packing work, the bus's main cost (docs/SCALING.md).
_PUBLISH_LUA = """
local added = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], ARGV[2], 't', ARGV[3], 'j', ARGV[4])
if type(added) == 'table' and added.err then return redis.error_reply(added.err) end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'c', ARGV[6], 's', ARGV[7], 't', ARGV[3], 'j', ARGV[4])
return 1
"""


class RedisCallHub(CallHub):
    """A ``CallHub`` whose delivered events also go to the call's stream and the wall, so other workers follow
    the call. This worker's own subscribers of the call are served from memory as before; its wall subscribers
    read the wall back like every other worker's."""

    def __init__(self, call_id: str, *, bus: RedisBus, loop: asyncio.AbstractEventLoop,
                 writer: StoreWriter | None, queue_size: int, first_seq: int) -> None:
        super().__init__(call_id, loop=loop, writer=writer, queue_size=queue_size, first_seq=first_seq)
        self._key = call_key(call_id)
        self._bus = bus
        self._publisher = bus.publisher
        self._publisher.submit(lambda p: p.persist(self._key))  # a reopened call's stream no longer expires

    def _deliver(self, env: Envelope) -> None:
        self._bus.send(env)
        super()._deliver(env)

    def redact(self, utterance_id: str, text: str, fragments: Sequence[tuple[str, str]] = ()) -> None:
        """Besides memory, the stream: entries cannot be rewritten, so the redacted ones are deleted and
        followers read those seqs from the database, which was rewritten before this runs."""
        ids = [f"{e.seq}-0" for e in self._recent if e.type in ("transcript", "suggestions")
               and redact_event_body(e.type, e.json, utterance_id, text, fragments) is not None]
        super().redact(utterance_id, text, fragments)
        if ids:
            self._publisher.submit(lambda p: p.xdel(self._key, *ids))

    async def close(self) -> None:
        await super().close()
        self._bus.send_closed(self.call_id, self.last_seq)


class RedisWall(Broadcaster):
    """The supervisor feed, read from ``assist:wall`` (which every worker's hubs write), so this worker's
    subscribers see every worker's calls in one order. Without replay, like the in-memory feed; a slow one is
    dropped. The wall is read only while this worker has subscribers (most workers have none)."""

    def __init__(self, bus: RedisBus) -> None:
        super().__init__(bus.queue_size)
        self._bus = bus
        self._reader: asyncio.Task[None] | None = None
        self.following = asyncio.Event()  # set once subscribers get every wall entry written from then on

    def subscribe(self) -> Subscriber:
        sub = super().subscribe()
        if self._reader is None or self._reader.done():
            self.following.clear()
            self._reader = self._bus.spawn(self._follow())
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        super().unsubscribe(sub)
        if not self.subscribers and self._reader is not None:
            self._reader.cancel()
            self._reader = None

    async def _follow(self) -> None:
        """Read the wall from its current end and fan it out here; runs until cancelled."""
        client, cursor = self._bus.client, ""
        backoff = _Backoff(f"reading {WALL}")
        while True:
            try:
                if not cursor:
                    tail = _entries(await client.xrevrange(WALL, count=1))
                    cursor = tail[0][0] if tail else "0-0"
                    self.following.set()
                reply = await client.xread({WALL: cursor}, count=READ_COUNT, block=BLOCK_MS)
            except _RETRY as exc:
                await backoff.wait(exc)
                continue
            backoff.reset()
            for entry_id, f in _entries(reply):
                cursor = entry_id
                self.fanout(Envelope(f["c"], int(f["s"]), f["t"], f["j"]))


class RemoteCall:
    """A call's stream as seen from a worker that does not run it: each subscriber has its own reader (XREAD
    BLOCK from its ``after_seq``), which waits for the socket instead of dropping it: Redis holds the backlog."""

    def __init__(self, bus: RedisBus, call_id: str) -> None:
        self._bus = bus
        self.call_id = call_id
        self._readers: dict[Subscriber, asyncio.Task[None]] = {}

    def subscribe(self, after_seq: int) -> tuple[Subscriber, list[Envelope] | None]:
        sub = Subscriber(asyncio.Queue(self._bus.queue_size), last_seq=after_seq)
        self._readers[sub] = self._bus.spawn(self._bus.follow(self.call_id, after_seq, sub.queue))
        return sub, []

    def unsubscribe(self, sub: Subscriber) -> None:
        task = self._readers.pop(sub, None)
        if task is not None:
            task.cancel()


class RedisBus:
    """``EventBus`` on Redis Streams and pub/sub (``assist.bus.open_bus`` builds it from ``redis_url``)."""

    distributed = True

    def __init__(self, url: str, store: CallStore, *, queue_size: int, call_maxlen: int = CALL_MAXLEN) -> None:
        self.url = url
        self.store = store
        self.queue_size = queue_size
        self.call_maxlen = call_maxlen
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # RESP2 on purpose: the reply shapes below are the same for every redis-py >= 5
        self.client = aioredis.Redis.from_url(url, decode_responses=True, protocol=2, socket_connect_timeout=5,
                                              socket_timeout=BLOCK_MS / 1000 + 10, health_check_interval=30)
        self.publisher = Publisher(self.client)
        self.publish_script = self.client.register_script(_PUBLISH_LUA)
        self.supervisor = RedisWall(self)
        self._pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self._handlers: dict[Notice, list[NoticeHandler]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Connect (``redis_unavailable`` if Redis does not answer), then start writing and reading."""
        try:
            await self.client.ping()
            await self._pubsub.subscribe(*CHANNELS.values())
        except RedisError as exc:
            await self.client.aclose()
            raise BusError("redis_unavailable", f"cannot reach Redis at {redacted_url(self.url)}: {exc}") from exc
        self.publisher.start()
        self.spawn(self._listen())
        log.info("events on redis %s (worker %s)", redacted_url(self.url), self.worker_id)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """A background task the bus cancels when it closes."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def open_call(self, call_id: str, *, loop: asyncio.AbstractEventLoop, writer: StoreWriter | None,
                  first_seq: int) -> CallHub:
        return RedisCallHub(call_id, bus=self, loop=loop, writer=writer, queue_size=self.queue_size,
                            first_seq=first_seq)

    def remote_call(self, call_id: str) -> CallFeed | None:
        return RemoteCall(self, call_id)

    def send(self, env: Envelope) -> None:
        """Queue a delivered event for its call's stream and the wall (one script: see ``_PUBLISH_LUA``)."""
        args: list[EncodableT] = [call_key(env.call_id), WALL, self.call_maxlen, f"{env.seq}-0", env.type, env.json,
                                  WALL_MAXLEN, env.call_id, env.seq]
        self.publisher.submit(lambda p: _evalsha(p, self.publish_script, args))

    def send_closed(self, call_id: str, last_seq: int) -> None:
        """Queue the end marker after event ``last_seq``; the ended call's stream then expires."""
        key, marker, fields = call_key(call_id), f"{last_seq}-1", cast(_Fields, {"t": "closed"})
        self.publisher.submit(lambda p: p.xadd(key, fields, id=marker, maxlen=self.call_maxlen))
        self.publisher.submit(lambda p: p.expire(key, ENDED_TTL_S))

    async def publish_stored(self, call_id: str, events: Sequence[Envelope], *, closed: bool) -> None:
        """A dead worker's call, taken over here: besides ``events``, what that worker committed but never wrote
        to Redis is sent again from the database, so the wall has no gap either (entries the stream holds already
        are refused by the script, on the wall too); then, with ``closed``, the end marker."""
        try:
            tail = _entries(await self.client.xrevrange(call_key(call_id), count=1))
        except _RETRY as exc:  # followers read any hole from the database; the wall misses it
            log.warning("redis: cannot read call %s's stream (%s); sending only the new events", call_id, exc)
            sent, backlog = 0, list(events)
        else:
            sent = _entry_seq(tail[0][0])[0] if tail else 0
            backlog = await asyncio.get_running_loop().run_in_executor(
                None, stored_backlog, self.store, call_id, min([sent, *(e.seq - 1 for e in events)]))
        for env in backlog:
            self.send(env)
        last = max([sent, *(e.seq for e in backlog)])
        if closed and last:
            self.send_closed(call_id, last)

    async def first_event(self, call_id: str) -> None:
        backoff = _Backoff(f"waiting for call {call_id}", quiet=True)
        while True:
            try:
                if await self.client.xread({call_key(call_id): "0-0"}, count=1, block=BLOCK_MS):
                    return
                backoff.reset()
            except _RETRY as exc:
                await backoff.wait(exc)

    # ---- following a call's stream

    async def follow(self, call_id: str, after_seq: int, queue: asyncio.Queue[Envelope]) -> None:
        """Every event of ``call_id`` after ``after_seq`` into ``queue``, in order and without gaps (holes in
        the stream are read from the database), then ``CLOSED`` when the call ends; until cancelled."""
        key, last = call_key(call_id), after_seq
        backoff = _Backoff(f"following call {call_id}", quiet=True)
        cursor: str | None = None
        while True:
            try:
                if cursor is None:  # the stream no longer (or not yet) reaches back: the database first
                    head = _entries(await self.client.xrange(key, count=1))
                    if not head or _entry_seq(head[0][0])[0] > last + 1:
                        last = await self._fill(call_id, last, None, queue)
                    cursor = f"{last}-0"
                reply = await self.client.xread({key: cursor}, count=READ_COUNT, block=BLOCK_MS)
                for entry_id, f in _entries(reply):
                    cursor = entry_id
                    seq, minor = _entry_seq(entry_id)
                    if minor:  # the end marker after event `seq`
                        last = await self._fill(call_id, last, seq + 1, queue)
                        if not await self.client.xrange(key, min=f"({entry_id}", count=1):
                            await queue.put(CLOSED)
                            return
                        continue  # reopened since: go on
                    if seq <= last:
                        continue
                    last = await self._fill(call_id, last, seq, queue)
                    await queue.put(Envelope(call_id, seq, f["t"], f["j"]))
                    last = seq
                backoff.reset()
            except _RETRY as exc:
                await backoff.wait(exc)

    async def _fill(self, call_id: str, last: int, before: int | None, queue: asyncio.Queue[Envelope]) -> int:
        """Stored events after ``last`` (and before ``before``) into ``queue``; the new last seq."""
        if before is not None and before <= last + 1:
            return last
        loop = asyncio.get_running_loop()
        for env in await loop.run_in_executor(None, stored_backlog, self.store, call_id, last):
            if before is not None and env.seq >= before:
                break
            await queue.put(env)
            last = env.seq
        return last

    # ---- notices

    def on_notice(self, notice: Notice, handler: NoticeHandler) -> None:
        self._handlers.setdefault(notice, []).append(handler)

    async def notify(self, notice: Notice, value: str) -> None:
        payload = json.dumps({"origin": self.worker_id, "value": value})
        try:
            await self.client.publish(CHANNELS[notice], payload)
        except RedisError:  # the other workers' periodic checks still catch up (KB watcher, key watcher)
            log.warning("could not announce %s %s on redis", notice, value, exc_info=True)

    async def _listen(self) -> None:
        by_channel = {channel: notice for notice, channel in CHANNELS.items()}
        backoff = _Backoff("listening for notices")
        while True:
            try:
                msg = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=BLOCK_MS / 1000)
            except _RETRY as exc:
                await backoff.wait(exc)
                continue
            backoff.reset()
            if msg is None or msg.get("type") != "message" or msg.get("channel") not in by_channel:
                continue
            try:
                data = json.loads(msg["data"])
                origin, value = data["origin"], str(data["value"])
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a malformed notice on %s", msg.get("channel"))
                continue
            if origin == self.worker_id:
                continue
            for handler in self._handlers.get(by_channel[msg["channel"]], ()):
                self.spawn(_guarded(handler, value))

    async def close(self) -> None:
        """Deliver what is queued (a few seconds at most), then stop every reader and disconnect."""
        if not await self.publisher.flush():
            log.warning("redis: %d event writes not sent at shutdown (followers read them from the database)",
                        self.publisher.pending)
        await self.publisher.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._pubsub.aclose()
        await self.client.aclose()


async def _guarded(handler: NoticeHandler, value: str) -> None:
    try:
        await handler(value)
    except Exception:  # one failing handler must not stop the listener or the others
        log.exception("notice handler failed for %r", value)
