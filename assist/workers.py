"""Who this worker is and whether the others are alive: its id and its heartbeat.

Several workers share one database (and Redis): each call records the worker that runs it (``calls.worker_id``),
and each worker beats a heartbeat every ``server.heartbeat_s`` from a thread of its own (so a busy event loop
never looks like a death):

- with ``redis_url``: the key ``assist:worker:{id}``, which expires ``server.worker_ttl_s`` after the last beat;
- without: a row of the ``workers`` table (``seen_at``) in the shared database; older than the ttl is dead.

A worker whose heartbeat is gone has died: the reaper (``assist/reaper.py``) of any other worker interrupts its
live calls. An id is one process's at a time: a worker that starts with the id of a live one is refused
(``worker_id_in_use``); the beat of a dead predecessor with the same id (a restart) is waited out, at most the ttl.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Protocol

from common.db import Store, open_store
from common.errors import CodedError
from config import Settings

log = logging.getLogger(__name__)

KEY_PREFIX = "assist:worker:"
WORKERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    beat TEXT NOT NULL,
    seen_at REAL NOT NULL
);
"""


class WorkerError(CodedError):
    """This worker cannot take its id: ``worker_id_in_use`` (another live worker beats for it)."""


def worker_id_of(settings: Settings) -> str:
    """``server.worker_id``, else a new ``hostname-pid-random`` (unique to this start)."""
    if settings.server.worker_id:
        return settings.server.worker_id
    host = "".join(c if c.isalnum() or c in "._-" else "-" for c in socket.gethostname())[:40].strip(".-_") or "host"
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Beats(Protocol):
    """Where heartbeats are kept. Blocking calls: the heartbeat thread and executors use them."""

    @property
    def confirm_s(self) -> float:
        """How long a worker must be seen without a beat before it is taken for dead."""
        ...

    def write(self, worker_id: str, beat: str) -> None: ...

    def read(self, worker_id: str) -> str | None:
        """The last beat of ``worker_id`` while it is fresh; ``None`` once it expired."""
        ...

    def alive(self, worker_ids: Collection[str]) -> set[str]:
        """Those of ``worker_ids`` with a fresh beat."""
        ...

    def remove(self, worker_id: str, beat_prefix: str) -> None:
        """Forget ``worker_id``'s beat if it is still this process's (a clean stop)."""
        ...

    def close(self) -> None: ...


class RedisBeats:
    """Heartbeats as Redis keys that expire ``ttl_s`` after the last beat.

    A Redis restarted empty loses every key at once; live workers beat again within one interval, so a worker
    is taken for dead only once it has been missing for ``confirm_s`` (two intervals) as well."""

    def __init__(self, url: str, *, ttl_s: float, interval_s: float) -> None:
        import redis  # the `scale` extra, present whenever redis_url is usable (assist.bus checked it)

        self._client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=max(1.0, interval_s),
                                            socket_connect_timeout=max(1.0, interval_s))
        self._ttl_ms = int(ttl_s * 1000)
        self.confirm_s = 2 * interval_s

    def write(self, worker_id: str, beat: str) -> None:
        self._client.set(KEY_PREFIX + worker_id, beat, px=self._ttl_ms)

    def read(self, worker_id: str) -> str | None:
        value = self._client.get(KEY_PREFIX + worker_id)
        return None if value is None else str(value)

    def alive(self, worker_ids: Collection[str]) -> set[str]:
        ids = list(worker_ids)
        if not ids:
            return set()
        values = self._client.mget([KEY_PREFIX + i for i in ids])
        return {i for i, v in zip(ids, values, strict=True) if v is not None}

    def remove(self, worker_id: str, beat_prefix: str) -> None:
        if (self.read(worker_id) or "").startswith(beat_prefix):
            self._client.delete(KEY_PREFIX + worker_id)

    def close(self) -> None:
        self._client.close()


class DatabaseBeats:
    """Heartbeats as rows of ``workers`` in the shared database, on a connection of their own (never behind the
    call writer). Fresh means ``seen_at`` within the ttl: the workers' clocks must agree to well within it."""

    confirm_s = 0.0
    FORGET_AFTER_S = 7 * 24 * 3600  # rows of workers long gone (killed ones never remove theirs)

    def __init__(self, target: str | Path, *, ttl_s: float) -> None:
        self._db: Store = open_store(target, "workers", (WORKERS_SCHEMA,))
        self._ttl_s = ttl_s
        with self._db.transaction() as db:
            db.execute("DELETE FROM workers WHERE seen_at<?", (time.time() - self.FORGET_AFTER_S,))

    def write(self, worker_id: str, beat: str) -> None:
        with self._db.transaction() as db:
            db.execute("INSERT INTO workers (id, beat, seen_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                       "beat=excluded.beat, seen_at=excluded.seen_at", (worker_id, beat, time.time()))

    def read(self, worker_id: str) -> str | None:
        with self._db.locked() as db:
            row = db.execute("SELECT beat FROM workers WHERE id=? AND seen_at>=?",
                             (worker_id, time.time() - self._ttl_s)).fetchone()
        return None if row is None else str(row[0])

    def alive(self, worker_ids: Collection[str]) -> set[str]:
        ids = list(worker_ids)
        if not ids:
            return set()
        with self._db.locked() as db:
            rows = db.execute(f"SELECT id FROM workers WHERE seen_at>=? AND id IN ({', '.join('?' * len(ids))})",
                              (time.time() - self._ttl_s, *ids)).fetchall()
        return {r[0] for r in rows}

    def remove(self, worker_id: str, beat_prefix: str) -> None:
        with self._db.transaction() as db:
            db.execute("DELETE FROM workers WHERE id=? AND beat LIKE ?", (worker_id, beat_prefix + "%"))

    def close(self) -> None:
        self._db.close()


def open_beats(settings: Settings) -> Beats:
    """Redis when ``redis_url`` is set, else the shared database."""
    ttl, interval = settings.server.worker_ttl_s, settings.server.heartbeat_s
    if settings.redis_url:
        return RedisBeats(settings.redis_url, ttl_s=ttl, interval_s=interval)
    return DatabaseBeats(settings.calls_db, ttl_s=ttl)


class Heartbeat:
    """This worker's heartbeat: ``acquire`` the id (blocking, at start-up), ``start`` the beating thread, ``stop``
    at a clean shutdown (the beat is removed: the others need not wait out the ttl)."""

    def __init__(self, beats: Beats, worker_id: str, *, interval_s: float, ttl_s: float) -> None:
        self.beats = beats
        self.worker_id = worker_id
        self.interval_s = interval_s
        self.ttl_s = ttl_s
        self._token = uuid.uuid4().hex  # this process's: tells its beats from a namesake's
        self._count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)
        self._failing = False

    def _beat(self) -> None:
        self._count += 1
        self.beats.write(self.worker_id, f"{self._token}:{self._count}")

    def acquire(self) -> None:
        """Take the id: a beat already there is a predecessor's (it stops changing and expires) or a live
        namesake's (it changes: ``worker_id_in_use``)."""
        first = self.beats.read(self.worker_id)
        if first is not None:
            log.info("worker %s: a heartbeat with this id is fresh; waiting until it expires (at most %.0f s)",
                     self.worker_id, self.ttl_s)
            deadline = time.monotonic() + self.ttl_s + self.interval_s
            while time.monotonic() < deadline:
                time.sleep(min(0.25, self.interval_s / 2))
                now = self.beats.read(self.worker_id)
                if now is None:
                    break
                if now != first:
                    raise WorkerError("worker_id_in_use", f"another live worker beats as {self.worker_id!r}: give "
                                      "every worker its own server.worker_id")
        self._beat()

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self._beat()
            except Exception as exc:  # Redis or the database away: the beat resumes with it
                if not self._failing:
                    log.warning("worker %s: heartbeat failed (%s); other workers take this one for dead after "
                                "%.0f s", self.worker_id, exc, self.ttl_s)
                self._failing = True
            else:
                if self._failing:
                    log.info("worker %s: heartbeat works again", self.worker_id)
                self._failing = False

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.interval_s + 5)
        try:
            self.beats.remove(self.worker_id, self._token)
        except Exception:  # its beat expires by itself
            log.warning("worker %s: could not remove its heartbeat", self.worker_id, exc_info=True)
        self.beats.close()
