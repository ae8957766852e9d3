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

    def __init__(self, max_finals: int, *, workers: int, is_stale: Callable[[Job], bool] | None = None) -> None:
        self.max_finals = max_finals
        self.workers = workers
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
                if self._finals:
                    first = self._finals.popleft()
                    batch = [first]
                    if max_finals > 1 and first.language is not None:
                        for job in list(self._finals):
                            if len(batch) >= max_finals:
                                break
                            if job.language == first.language:
                                self._finals.remove(job)
                                batch.append(job)
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
                if self._closed:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return []
                self._cond.wait(remaining)

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
