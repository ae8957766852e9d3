"""A worker that dies mid-call: its calls are marked interrupted, their notes written, the change published.

Every worker runs a ``Reaper``. Every ``server.heartbeat_s`` it lists the workers that run live calls (or owe
notes) in the shared database and asks the heartbeats (``assist/workers.py``) which are gone. For each dead
worker, one transaction:

- ``UPDATE calls SET state='interrupted' … WHERE state='live' AND worker_id=<dead>``: of several reapers, exactly
  one takes each call; every stored event and utterance stays as it was;
- a ``status`` event (``state: interrupted``) appended to each call's stream, and the notes owed (``orphans``).

Then, once this worker's models are loaded, the notes of each call it owes are written from the call's stored
utterances and top cards, as a live call's are at its end (``CallSession._summarize``; ``stored_history``), in
one transaction with their ``summary`` event. Each event goes out on the bus after its commit (Redis: the call's
stream and the wall, and what the dead worker had committed but never sent; then the end marker), so widgets
following the call on any worker, and the supervisor wall, see it end. A reaper that dies owing notes is itself
reaped: its debts go to the next one (``adopt_orphans``).

At start-up a worker takes back the calls its own id left live (a restart; ``Heartbeat.acquire`` made sure the
previous holder of the id is gone). A worker alone on its database (SQLite without Redis: one process by design)
takes every live call at start-up, as before worker ids, without waiting for the previous process's heartbeat to
expire; later rounds go by the heartbeats there too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from functools import partial

from assist.bus import EventBus
from assist.calls import stored_history
from assist.events import OutboundEvent, StatusEvent, SummaryEvent
from assist.hub import Envelope
from assist.services import Services
from assist.store import CallStore
from assist.workers import Beats, Heartbeat, open_beats, worker_id_of
from common.db import is_postgres
from config import Settings
from summarize.base import ArticleRef, Turn
from summarize.notes import CallNotes

log = logging.getLogger(__name__)


class Reaper:
    """Runs on the event loop; every database and heartbeat read goes to an executor."""

    def __init__(self, worker_id: str, *, store: CallStore, bus: EventBus, services: Services, beats: Beats,
                 interval_s: float, language: str, alone: bool) -> None:
        self.worker_id = worker_id
        self.store = store
        self.bus = bus
        self.services = services
        self.beats = beats
        self.interval_s = interval_s
        self.language = language
        self.alone = alone
        self._missing: dict[str, float] = {}  # worker id -> when this reaper first found its heartbeat gone
        self._blind = False  # the heartbeats could not be read (logged once)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Take back what a previous process left (before any call opens here), then reap periodically."""
        await self.reap(startup=True)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="reaper")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.reap()
            except Exception:  # the database away, a bug: the next round tries again
                log.exception("reaper: a round failed; next in %.1f s", self.interval_s)

    async def reap(self, *, startup: bool = False) -> None:
        """One round: interrupt the dead workers' calls, then write the notes this worker owes (not at start-up:
        a slow summarizer must not hold the worker back from serving)."""
        loop = asyncio.get_running_loop()
        for worker in await loop.run_in_executor(None, self._dead_workers, startup):
            for env in await loop.run_in_executor(None, self._interrupt, worker):
                await self.bus.publish_stored(env.call_id, [env], closed=False)
        if not startup:
            await self._write_notes()

    def _dead_workers(self, startup: bool) -> list[str | None]:
        owners = self.store.workers_with_calls()
        if not startup:
            owners.discard(self.worker_id)  # its own live calls run here
        if self.alone and startup:  # no other process shares this database: every owner is a past one
            return sorted(owners, key=str)
        others = {w for w in owners if w is not None and w != self.worker_id}
        try:
            alive = self.beats.alive(others)
        except Exception as exc:  # no judgement without the heartbeats
            if not self._blind:
                log.warning("reaper: cannot read the workers' heartbeats (%s); nothing is reaped until it can", exc)
            self._blind = True
            return []
        self._blind = False
        now = time.monotonic()
        dead: list[str | None] = [w for w in owners if w is None or w == self.worker_id]
        for worker in sorted(others - alive):
            if now - self._missing.setdefault(worker, now) >= self.beats.confirm_s:
                dead.append(worker)
        for worker in list(self._missing):
            if worker not in others or worker in alive:
                del self._missing[worker]
        return dead

    def _interrupt(self, worker: str | None) -> list[Envelope]:
        """Take ``worker``'s live calls and its owed notes; the ``status`` events to publish."""
        with self.store.batch():
            taken = self.store.interrupt_calls(worker, by=self.worker_id)
            events = [self._append(call_id, StatusEvent(call_id=call_id, state="interrupted")) for call_id in taken]
        adopted = self.store.adopt_orphans(worker, by=self.worker_id) if worker not in (None, self.worker_id) else []
        if taken or adopted:
            log.warning("worker %s is gone: %d live call(s) marked interrupted, %d call(s) whose notes it owed "
                        "taken over by %s", worker, len(taken), len(adopted), self.worker_id)
        return events

    def _append(self, call_id: str, event: OutboundEvent) -> Envelope:
        """Number and store one event of a call no hub runs (inside the caller's transaction)."""
        event.seq = self.store.last_seq(call_id) + 1
        env = Envelope(call_id, event.seq, event.type, event.model_dump_json())
        self.store.add_events([(call_id, env.seq, env.type, event.ts, env.json)])
        return env

    async def _write_notes(self) -> None:
        stages = self.services.stages
        if stages is None:  # models still loading: the notes wait for them
            return
        loop = asyncio.get_running_loop()
        for call_id in await loop.run_in_executor(None, self.store.owed_notes, self.worker_id):
            turns, articles, language = await loop.run_in_executor(None, self._notes_input, call_id)
            notes: CallNotes | None = None
            started = time.monotonic()
            if stages.summarizer is not None:
                summarize = partial(stages.summarizer.summarize, turns, language=language, articles=articles)
                try:
                    notes = await loop.run_in_executor(stages.executor, summarize)
                except Exception:  # as at a live call's end: the call goes without notes
                    log.exception("call %s: notes from its stored utterances failed", call_id)
            elapsed_ms = round((time.monotonic() - started) * 1000, 1)
            settled, env = await loop.run_in_executor(None, self._save_notes, call_id, notes, elapsed_ms)
            if settled:
                await self.bus.publish_stored(call_id, [env] if env is not None else [], closed=True)

    def _notes_input(self, call_id: str) -> tuple[list[Turn], list[ArticleRef], str]:
        turns, articles = stored_history(self.store, call_id)
        row = self.store.get_call(call_id)
        language = row.language if row is not None and row.language in ("ja", "en") else None
        return turns, articles, language or self._spoken_language(call_id) or self.language

    def _spoken_language(self, call_id: str) -> str | None:
        """A call started with ``auto``: the language its last final was recognized in."""
        for _seq, type_, body in reversed(self.store.event_bodies_after(call_id, 0)):
            if type_ == "transcript":
                data = json.loads(body)
                if data.get("final") and data.get("language") in ("ja", "en"):
                    return str(data["language"])
        return None

    def _save_notes(self, call_id: str, notes: CallNotes | None, latency_ms: float) -> tuple[bool, Envelope | None]:
        """The notes and their event, if this worker still owes them (the call may have been reopened since)."""
        with self.store.batch():
            if not self.store.settle_orphan(call_id, by=self.worker_id):
                return False, None
            if notes is None:
                return True, None
            env = self._append(call_id, SummaryEvent(call_id=call_id, notes=notes, latency_ms=latency_ms))
            self.store.save_summary(call_id, notes.model_dump(mode="json"))
        log.info("call %s: notes written from its stored utterances", call_id)
        return True, env

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class Worker:
    """This process as one of the workers: its id, its heartbeat and its reaper (started in the app's lifespan)."""

    def __init__(self, heartbeat: Heartbeat, reaper: Reaper) -> None:
        self.heartbeat = heartbeat
        self.reaper = reaper

    @property
    def id(self) -> str:
        return self.heartbeat.worker_id

    async def close(self) -> None:
        """A clean stop: its calls have ended; its beat is removed so nobody waits for it to expire."""
        await self.reaper.close()
        await asyncio.get_running_loop().run_in_executor(None, self.heartbeat.stop)


async def start_worker(settings: Settings, services: Services, bus: EventBus) -> Worker:
    """Take this worker's id (``worker_id_in_use`` if a live worker has it), beat, reap what was left behind."""
    loop = asyncio.get_running_loop()
    worker_id = worker_id_of(settings)
    server = settings.server
    beats = await loop.run_in_executor(None, open_beats, settings)
    heartbeat = Heartbeat(beats, worker_id, interval_s=server.heartbeat_s, ttl_s=server.worker_ttl_s)
    try:
        await loop.run_in_executor(None, heartbeat.acquire)
    except BaseException:
        beats.close()
        raise
    heartbeat.start()
    alone = not bus.distributed and not is_postgres(settings.calls_db)
    reaper = Reaper(worker_id, store=services.call_store, bus=bus, services=services, beats=beats,
                    interval_s=server.heartbeat_s, language=settings.language, alone=alone)
    worker = Worker(heartbeat, reaper)
    try:
        await reaper.start()
    except BaseException:
        await worker.close()
        raise
    log.info("worker %s: heartbeat every %.1f s (%s)", worker_id, server.heartbeat_s,
             "redis" if settings.redis_url else "database")
    return worker
