"""The live calls of this process: admission (max concurrent calls), lookup and shutdown."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from assist import metrics
from assist.auth import Principal
from assist.bus import CallFeed, EventBus, MemoryBus
from assist.events import ErrorCode
from assist.hub import CallHub
from assist.session import CallOptions, CallSession, EndReason
from assist.stages import CallStages
from assist.store import CallStore
from assist.store_writer import StoreWriter
from common.errors import CodedError
from config import Settings
from summarize.base import ArticleRef, Turn

log = logging.getLogger(__name__)

ENDED_HUB_MEMORY = 64  # events an ended call keeps in memory for resumes (the summary and what led to it)


class CallError(CodedError):
    """A call could not be opened or joined; ``code`` is the protocol's error code."""

    code: ErrorCode

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(code, message)


class CallManager:
    """Created on the event loop at start-up; every method runs on that loop."""

    def __init__(self, settings: Settings, stages: CallStages | None, store: CallStore, *,
                 loop: asyncio.AbstractEventLoop, status_interval_s: float = 2.0, bus: EventBus | None = None,
                 worker_id: str | None = None) -> None:
        self.settings = settings
        self.worker_id = worker_id  # recorded on every call opened here (assist/workers.py)
        self.stages = stages
        self.store = store
        self.writer = StoreWriter(store)
        self.loop = loop
        self.bus: EventBus = bus or MemoryBus(settings.server.subscriber_queue)  # the hubs' (assist/bus.py)
        self.supervisor = self.bus.supervisor
        self.sessions: dict[str, CallSession] = {}
        self._ended_hubs: dict[str, CallHub] = {}
        self._status_interval = status_interval_s
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}  # call id -> subscribers waiting for it
        self._join_lock = asyncio.Lock()

    @property
    def active(self) -> int:
        return sum(1 for s in self.sessions.values() if s.state == "live")

    def live_calls_of(self, owner: str) -> int:
        """Live calls opened with the key ``owner`` (for ``security.max_calls_per_key``)."""
        return sum(1 for s in self.sessions.values() if s.state == "live" and s.options.metadata.get("owner") == owner)

    def get(self, call_id: str) -> CallSession | None:
        return self.sessions.get(call_id)

    def hub(self, call_id: str) -> CallHub | None:
        session = self.sessions.get(call_id)
        return session.hub if session is not None else self._ended_hubs.get(call_id)

    async def remote_hub(self, call_id: str) -> CallFeed | None:
        """The feed of a call live on another worker (a shared bus only; ``None`` for a call that is not live)."""
        if not self.bus.distributed:
            return None
        row = await self.loop.run_in_executor(None, self.store.get_call, call_id)
        return self.bus.remote_call(call_id) if row is not None and row.state == "live" else None

    async def wait_for_call(self, call_id: str) -> CallFeed:
        """For widgets that connect before the call's audio does, whichever worker the call starts on."""
        if not self.bus.distributed:
            return await self._wait_here(call_id)
        here = asyncio.ensure_future(self._wait_here(call_id))
        anywhere = asyncio.ensure_future(self.bus.first_event(call_id))
        try:
            await asyncio.wait([here, anywhere], return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when cancelled (the socket left): the loser must not linger
            for task in (here, anywhere):
                task.cancel()
            await asyncio.gather(here, anywhere, return_exceptions=True)
        feed = self.hub(call_id) or self.bus.remote_call(call_id)
        assert feed is not None  # a distributed bus always reaches other workers' calls
        return feed

    async def _wait_here(self, call_id: str) -> CallHub:
        """A waiter that is cancelled (its socket left) removes itself, so call ids that never start leave
        nothing behind."""
        while (hub := self.hub(call_id)) is None:
            waiter: asyncio.Future[None] = self.loop.create_future()
            waiters = self._waiters.setdefault(call_id, set())
            waiters.add(waiter)
            try:
                await waiter
            finally:
                waiters.discard(waiter)
                if not waiters and self._waiters.get(call_id) is waiters:
                    del self._waiters[call_id]
        return hub

    def waiting(self) -> int:
        """Subscribers waiting for calls that have not started (a leak shows here)."""
        return sum(len(w) for w in self._waiters.values())

    async def join(self, call_id: str, options: CallOptions, principal: Principal | None = None) -> CallSession:
        """Attach an audio source to ``call_id``, opening the call if it is not live yet.

        ``principal`` streams: an agent only into calls it owns (live, or stored and reopened), an admin
        into any. Without one, ``options.metadata['owner']`` must equal the call's owner."""
        async with self._join_lock:  # two legs' sockets starting together open one call
            return await self._join(call_id, options, principal)

    async def _join(self, call_id: str, options: CallOptions, principal: Principal | None) -> CallSession:
        session = self.sessions.get(call_id)
        if session is not None and not _may_stream(principal, options, session.options.metadata.get("owner")):
            raise CallError("forbidden", "this call belongs to another agent")
        if session is not None and session.state != "live":
            await session.ended.wait()
            current = self.sessions.get(call_id)
            session = None if current is session else current  # ended, even if not retired yet: reopen
        if session is None:
            session = await self._open(call_id, options, principal)
        try:
            session.attach(list(options.legs))
        except ValueError as exc:
            raise CallError("call_exists", str(exc)) from exc
        except Exception as exc:
            log.exception("call %s: could not open its legs", call_id)
            if session.sources == 0:
                self.loop.create_task(session.end("error"))
            raise CallError("internal", "the call's audio could not be opened") from exc
        return session

    async def _open(self, call_id: str, options: CallOptions, principal: Principal | None) -> CallSession:
        if self.stages is None:
            raise CallError("not_ready", "models are still loading; retry when /readyz answers 200")
        if self.active >= self.settings.server.max_calls:
            metrics.CALLS_REJECTED.labels("too_many_calls").inc()
            raise CallError("too_many_calls",
                            f"the server is at its maximum of {self.settings.server.max_calls} concurrent calls")
        owner, per_key = options.metadata.get("owner"), self.settings.security.max_calls_per_key
        if owner is not None and self.live_calls_of(owner) >= per_key:  # open mode has no owner
            metrics.CALLS_REJECTED.labels("too_many_calls_for_key").inc()
            raise CallError("too_many_calls_for_key", f"this API key already streams {per_key} live calls")
        # integrators put customer fields in metadata: mask them like speech before they are stored or sent
        language = options.language if options.language != "auto" else self.settings.language
        metadata = {k: v if k == "owner" else self.stages.mask(v, language) for k, v in options.metadata.items()}
        options = replace(options, metadata=metadata)
        any_owner = principal is not None and principal.scope("calls:stream") == "all"
        opened = await self.loop.run_in_executor(None, self._reopen, call_id, options, not any_owner)
        if opened is None:
            raise CallError("forbidden", "this call belongs to another agent")
        epoch, first_seq, options, history, matched = opened
        self._ended_hubs.pop(call_id, None)
        hub = self.bus.open_call(call_id, loop=self.loop, writer=self.writer, first_seq=first_seq)
        session = CallSession(call_id, options, stages=self.stages, hub=hub, writer=self.writer, loop=self.loop,
                              status_interval_s=self._status_interval, epoch=epoch, history=history, matched=matched)
        self.sessions[call_id] = session
        metrics.CALLS_TOTAL.labels(options.source).inc()
        metrics.ACTIVE_CALLS.set(self.active)
        session.announce()
        for waiter in self._waiters.pop(call_id, set()):
            if not waiter.done():
                waiter.set_result(None)
        self.loop.create_task(self._retire(session))
        log.info("call %s started (%s, legs %s, epoch %d)", call_id, options.language, ",".join(options.legs), epoch)
        return session

    def _reopen(self, call_id: str, options: CallOptions, same_owner: bool
                ) -> tuple[int, int, CallOptions, list[Turn], list[ArticleRef]] | None:
        """The store side of opening (executor): ``None`` when the stored call belongs to another key, else
        (epoch, first seq, options, earlier turns, earlier top cards). A reopened call keeps its stored owner,
        and its notes are rebuilt from every stored utterance, not only this connection's."""
        self.writer.flush()
        epoch = self.store.create_call(call_id, language=options.language, source=options.source,
                                       legs=options.legs, metadata=options.metadata, same_owner=same_owner,
                                       worker_id=self.worker_id)
        if epoch is None:
            return None
        first_seq = self.store.last_seq(call_id) + 1
        if epoch == 0:
            return epoch, first_seq, options, [], []
        row = self.store.get_call(call_id)
        owner = row.metadata.get("owner") if row is not None else None
        metadata = {k: v for k, v in options.metadata.items() if k != "owner"}
        options = replace(options, metadata={**metadata, "owner": owner} if owner else metadata)
        history, matched = stored_history(self.store, call_id)
        return epoch, first_seq, options, history, matched

    async def _retire(self, session: CallSession) -> None:
        await session.ended.wait()
        if self.sessions.get(session.call_id) is session:
            del self.sessions[session.call_id]
            session.hub.shrink(ENDED_HUB_MEMORY)
            self._ended_hubs[session.call_id] = session.hub
            while len(self._ended_hubs) > 100:
                self._ended_hubs.pop(next(iter(self._ended_hubs)))
        metrics.ACTIVE_CALLS.set(self.active)
        log.info("call %s ended", session.call_id)

    def update_metrics(self) -> None:
        metrics.ACTIVE_CALLS.set(self.active)
        metrics.QUEUE_DEPTH.labels("store_writer").set(self.writer.depth())
        metrics.QUEUE_DEPTH.labels("suggestions").set(sum(s.status().queue_depth for s in self.sessions.values()))
        lags = [v for s in self.sessions.values() for v in s.status().lag_s.values()]
        metrics.ASR_LAG.set(max(lags, default=0.0))
        if self.stages is not None:
            asr = self.stages.asr.stats()
            metrics.ASR_QUEUE.labels("final").set(asr.get("queue_finals", 0))
            metrics.ASR_QUEUE.labels("partial").set(asr.get("queue_partials", 0))
            metrics.ASR_DROPPED_PARTIALS.set(asr.get("dropped_partials", 0))

    async def shutdown(self, reason: EndReason = "shutdown") -> None:
        await asyncio.gather(*(s.end(reason) for s in list(self.sessions.values())), return_exceptions=True)
        await self.loop.run_in_executor(None, self.writer.close)


def stored_history(store: CallStore, call_id: str) -> tuple[list[Turn], list[ArticleRef]]:
    """What the notes of a call are written from, read back from the store: its turns (every stored utterance)
    and the articles that came up as its top card (a reopened call goes on from them; a dead worker's call
    gets its notes from them, ``assist/reaper.py``)."""
    stored = store.utterances(call_id)
    history = [Turn(index=i, speaker=u["leg"], text=u["text"], start=u["start"], end=u["end"])
               for i, u in enumerate(stored)]
    turn_of = {u["utterance_id"]: i for i, u in enumerate(stored)}
    matched: dict[str, ArticleRef] = {}
    for s in store.suggestions(call_id):
        if s["rank"] == 1 and s["article_id"] not in matched:
            matched[s["article_id"]] = ArticleRef(s["article_id"], s["title"] or "", None,
                                                  turn=turn_of.get(s["utterance_id"]))
    return history, list(matched.values())


def _may_stream(principal: Principal | None, options: CallOptions, owner: str | None) -> bool:
    """An agent streams only into its own calls, an admin into any, a supervisor into none."""
    if principal is not None:
        return principal.may("calls:stream", owner)
    return owner == options.metadata.get("owner")
