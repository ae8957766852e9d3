"""The live calls of this process: admission (max concurrent calls), lookup and shutdown."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from assist import metrics
from assist.config import Settings
from assist.hub import Broadcaster, CallHub
from assist.pipeline import Pipeline
from assist.session import CallOptions, CallSession, EndReason
from assist.store import CallStore, StoreWriter

log = logging.getLogger(__name__)

ENDED_HUB_MEMORY = 64  # events an ended call keeps in memory for resumes (the summary and what led to it)


class CallError(Exception):
    """A call could not be opened or joined; ``code`` is the protocol's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CallManager:
    """Created on the event loop at start-up; every method runs on that loop."""

    def __init__(self, settings: Settings, pipeline: Pipeline | None, store: CallStore, *,
                 loop: asyncio.AbstractEventLoop, status_interval_s: float = 2.0) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.store = store
        self.writer = StoreWriter(store)
        self.loop = loop
        self.supervisor = Broadcaster(settings.server.subscriber_queue)
        self.sessions: dict[str, CallSession] = {}
        self._ended_hubs: dict[str, CallHub] = {}
        self._status_interval = status_interval_s
        self._waiters: dict[str, asyncio.Event] = {}
        self._join_lock = asyncio.Lock()

    @property
    def active(self) -> int:
        return sum(1 for s in self.sessions.values() if s.state == "live")

    def get(self, call_id: str) -> CallSession | None:
        return self.sessions.get(call_id)

    def hub(self, call_id: str) -> CallHub | None:
        session = self.sessions.get(call_id)
        return session.hub if session is not None else self._ended_hubs.get(call_id)

    async def wait_for_call(self, call_id: str) -> CallHub:
        """For widgets that connect before the call's audio does."""
        while (hub := self.hub(call_id)) is None:
            event = self._waiters.setdefault(call_id, asyncio.Event())
            await event.wait()
        return hub

    async def join(self, call_id: str, options: CallOptions) -> CallSession:
        """Attach an audio source to ``call_id``, opening the call if it is not live yet."""
        async with self._join_lock:  # two legs' sockets starting together open one call
            return await self._join(call_id, options)

    async def _join(self, call_id: str, options: CallOptions) -> CallSession:
        session = self.sessions.get(call_id)
        if session is not None and session.state != "live":
            await session.ended.wait()
            session = self.sessions.get(call_id)
        if session is None:
            session = await self._open(call_id, options)
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

    async def _open(self, call_id: str, options: CallOptions) -> CallSession:
        if self.pipeline is None:
            raise CallError("not_ready", "models are still loading; retry when /readyz answers 200")
        if self.active >= self.settings.server.max_calls:
            metrics.CALLS_REJECTED.labels("too_many_calls").inc()
            raise CallError("too_many_calls",
                            f"the server is at its maximum of {self.settings.server.max_calls} concurrent calls")
        # integrators put customer fields in metadata: mask them like speech before they are stored or sent
        language = options.language if options.language != "auto" else self.settings.language
        metadata = {k: v if k == "owner" else self.pipeline.mask(v, language) for k, v in options.metadata.items()}
        options = replace(options, metadata=metadata)
        first_seq = await self.loop.run_in_executor(None, self._reopen, call_id, options)
        self._ended_hubs.pop(call_id, None)
        hub = CallHub(call_id, loop=self.loop, writer=self.writer, queue_size=self.settings.server.subscriber_queue,
                      first_seq=first_seq, supervisor=self.supervisor)
        session = CallSession(call_id, options, pipeline=self.pipeline, hub=hub, writer=self.writer, loop=self.loop,
                              status_interval_s=self._status_interval)
        self.sessions[call_id] = session
        metrics.CALLS_TOTAL.labels(options.source).inc()
        metrics.ACTIVE_CALLS.set(self.active)
        session.announce()
        waiter = self._waiters.pop(call_id, None)
        if waiter is not None:
            waiter.set()
        self.loop.create_task(self._retire(session))
        log.info("call %s started (%s, legs %s)", call_id, options.language, ",".join(options.legs))
        return session

    def _reopen(self, call_id: str, options: CallOptions) -> int:
        self.writer.flush()
        self.store.create_call(call_id, language=options.language, source=options.source, legs=options.legs,
                               metadata=options.metadata)
        return self.store.last_seq(call_id) + 1

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
        stats = getattr(self.pipeline.asr, "stats", None) if self.pipeline is not None else None
        if stats is not None:
            asr = stats()
            metrics.ASR_QUEUE.labels("final").set(asr.get("queue_finals", 0))
            metrics.ASR_QUEUE.labels("partial").set(asr.get("queue_partials", 0))
            metrics.ASR_DROPPED_PARTIALS.set(asr.get("dropped_partials", 0))

    async def shutdown(self, reason: EndReason = "shutdown") -> None:
        await asyncio.gather(*(s.end(reason) for s in list(self.sessions.values())), return_exceptions=True)
        await self.loop.run_in_executor(None, self.writer.close)
