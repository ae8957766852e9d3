"""``StoreWriter``: the one thread that commits the call store's writes, and the delivery-after-commit rule."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading

from assist.store import Callback, CallStore, Write
from common.db import transient_errors

log = logging.getLogger(__name__)


class StoreWriter:
    """One thread that commits writes in submission order, and the delivery-after-commit rule:

    - ``then`` runs only after its write committed, so an event reaches subscribers only once its row is stored.
    - A write that fails with a database error (locked beyond the busy timeout, disk full, I/O error) is retried
      with backoff until it commits; the writes behind it wait, so their order is kept and nothing is lost:
      delivery is late, never early. Any other exception is a bug in the write, which can never commit: it is
      logged, its ``then`` does not run, ``failed`` does (the hub stops waiting for that event).
    - ``submit`` never blocks and never writes on the caller's thread (the event loop). Backpressure is
      ``room()``: producers that can wait (the audio sockets) await it while ``max_queue`` writes are pending,
      so a stalled disk stops audio intake instead of growing the queue without end.
    - Group commit: the writes waiting when the thread is free (up to ``MAX_BATCH``) run in one transaction,
      so many calls' events share one commit (one fsync, one WAL flush: docs/SCALING.md). A database error
      retries the whole group; a write that fails with a bug rolls the group back, and its writes are then
      committed one by one, so only that one is lost. Alone in the queue, a write commits by itself at once.
    """

    RETRY_FIRST_S = 0.05
    RETRY_MAX_S = 5.0
    MAX_BATCH = 128

    def __init__(self, store: CallStore, *, max_queue: int = 10_000) -> None:
        self.store = store
        self.max_queue = max_queue
        self._queue: queue.SimpleQueue[tuple[Write, Callback | None, Callback | None] | None] = queue.SimpleQueue()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._waiters_lock = threading.Lock()
        self._abandon = threading.Event()  # set when close() gives up on writes that keep failing
        self._thread = threading.Thread(target=self._run, name="call-store-writer", daemon=True)
        self._thread.start()

    def submit(self, write: Write, then: Callback | None = None, *, failed: Callback | None = None) -> None:
        """Queue ``write``; ``then`` runs on the writer thread once it committed, ``failed`` if it never can."""
        self._queue.put((write, then, failed))

    def depth(self) -> int:
        return self._queue.qsize()

    async def room(self) -> None:
        """Return once fewer than ``max_queue`` writes are pending (at once when that is so already)."""
        while self.depth() >= self.max_queue and self._thread.is_alive():
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[None] = loop.create_future()
            with self._waiters_lock:
                self._waiters.append((loop, waiter))
            if self.depth() >= self.max_queue:  # else the writer drained it between the check and now
                await waiter

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every submitted write has committed (tests, shutdown)."""
        done = threading.Event()
        self.submit(lambda _s: None, done.set)
        done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop; writes still failing after ``timeout`` are given up (logged)."""
        if not self._thread.is_alive():
            return
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("call store writer: %d writes still not committed after %g s; giving them up",
                      self.depth() + 1, timeout)
            self._abandon.set()

    def _run(self) -> None:
        closing = False
        while not closing and (item := self._queue.get()) is not None:
            batch = [item]
            while len(batch) < self.MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    closing = True
                    break
                batch.append(nxt)
            for (_write, then, failed), ok in zip(batch, self._commit([w for w, _, _ in batch]), strict=True):
                done = then if ok else failed
                if done is not None:
                    try:
                        done()
                    except Exception:
                        log.exception("call store callback failed")
            if self._waiters and self.depth() < self.max_queue:
                self._wake()
        self._wake()

    def _commit(self, writes: list[Write]) -> list[bool]:
        """Whether each write committed; all of them are tried again while the database fails."""
        delay = self.RETRY_FIRST_S
        while True:
            try:
                with self.store.batch():
                    for write in writes:
                        write(self.store)
                return [True] * len(writes)
            except transient_errors():
                log.warning("call store write failed; retrying in %.2f s (later events wait for it)", delay,
                            exc_info=True)
            except Exception:
                if len(writes) > 1:  # rolled back: find the one that cannot commit
                    log.warning("a write in a group of %d failed; committing them one by one", len(writes))
                    return [ok for write in writes for ok in self._commit([write])]
                log.exception("call store write failed and cannot succeed; its event is not delivered")
                return [False]
            if self._abandon.wait(delay):
                log.error("call store write given up at shutdown; its event is not delivered")
                return [False] * len(writes)
            delay = min(delay * 2, self.RETRY_MAX_S)

    def _wake(self) -> None:
        with self._waiters_lock:
            waiters, self._waiters = self._waiters, []
        for loop, waiter in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, waiter)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
