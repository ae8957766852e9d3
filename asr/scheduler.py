"""One model, many calls: a bounded two-class queue where finals always go before partials.

Finals are never dropped: when their queue is full the producer (the VAD thread, not the caller)
waits. Partials are best-effort: a leg keeps only its newest pending partial, a partial whose
utterance already has a final queued is discarded, and with two or more workers one worker only ever
takes finals, so a final never waits behind a partial decode.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Job:
    """A unit of decode work; ``key`` groups partials of one leg, ``payload`` is opaque here."""

    key: Hashable
    final: bool
    payload: Any
    language: str | None = None
    enqueued: float = field(default_factory=time.monotonic)


class DecodeScheduler:
    """Thread-safe queue of ``Job`` with final-first priority and partial dropping."""

    def __init__(self, max_finals: int, *, workers: int, is_stale: Callable[[Job], bool] | None = None,
                 exclusive_finals: bool = False) -> None:
        """``exclusive_finals``: a key's next final waits until ``finish`` reports its previous one done (a final
        decoded after its leg's previous one needs that one's text, ``asr/context.py``)."""
        self.max_finals = max_finals
        self.workers = workers
        self.exclusive_finals = exclusive_finals
        self._busy: set[Hashable] = set()  # keys with a final being decoded (exclusive_finals only)
        self._is_stale = is_stale or (lambda job: False)
        self._finals: deque[Job] = deque()
        self._partials: dict[Hashable, Job] = {}
        self._cond = threading.Condition()
        self._closed = False
        self.dropped_partials = 0
        self.submitted_finals = 0
        self.submitted_partials = 0

    def submit(self, job: Job, *, timeout: float | None = None) -> bool:
        """Queue a job; a final waits for room (never dropped), a partial replaces the leg's older one."""
        with self._cond:
            if self._closed:
                return False
            if job.final:
                if not self._cond.wait_for(
                    lambda: len(self._finals) < self.max_finals or self._closed, timeout=timeout
                ):
                    return False
                if self._closed:
                    return False
                self._finals.append(job)
                self.submitted_finals += 1
            else:
                if self._partials.pop(job.key, None) is not None:
                    self.dropped_partials += 1
                self._partials[job.key] = job
                self.submitted_partials += 1
            self._cond.notify_all()
            return True

    def take(self, worker: int, *, max_finals: int = 1, timeout: float | None = None) -> list[Job] | None:
        """Next work for ``worker``: up to ``max_finals`` finals of one language, else one partial.

        Returns ``None`` once closed and drained; an empty list on timeout.
        """
        partials_ok = self.workers < 2 or worker > 0
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                first = next((j for j in self._finals if j.key not in self._busy), None)
                if first is not None:
                    self._finals.remove(first)
                    batch = [first]
                    if max_finals > 1 and first.language is not None:
                        for job in list(self._finals):
                            if len(batch) >= max_finals:
                                break
                            if job.language == first.language and job.key not in self._busy and \
                                    (not self.exclusive_finals or all(job.key != b.key for b in batch)):
                                self._finals.remove(job)
                                batch.append(job)
                    if self.exclusive_finals:
                        self._busy.update(job.key for job in batch)
                    self._cond.notify_all()
                    return batch
                if partials_ok:
                    while self._partials:
                        key = next(iter(self._partials))
                        job = self._partials.pop(key)
                        if self._is_stale(job):
                            self.dropped_partials += 1
                            continue
                        return [job]
                if self._closed and not self._finals:  # finals waiting for their key are still to come
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return []
                self._cond.wait(remaining)

    def finish(self, jobs: list[Job]) -> None:
        """Finals handed out by ``take`` are decoded and delivered: their keys' next finals may go."""
        if not self.exclusive_finals:
            return
        with self._cond:
            self._busy.difference_update(job.key for job in jobs if job.final)
            self._cond.notify_all()

    def drop_partials(self, key: Hashable) -> None:
        """Forget a leg's pending partial (its utterance was finalized or the leg closed)."""
        with self._cond:
            if self._partials.pop(key, None) is not None:
                self.dropped_partials += 1

    def depth(self) -> tuple[int, int]:
        with self._cond:
            return len(self._finals), len(self._partials)

    def close(self) -> None:
        """Stop accepting work; workers drain the finals already queued, then get ``None``."""
        with self._cond:
            self._closed = True
            self.dropped_partials += len(self._partials)
            self._partials.clear()
            self._cond.notify_all()
