"""The one way this project opens SQLite: the call, key and knowledge databases all go through ``Database``.

One documented set of pragmas for every file, so no store drifts:

- ``journal_mode=WAL``: readers (other processes, ``assist calls``/``assist kb``) never wait for the writer;
- ``synchronous=NORMAL``: with WAL a commit survives a crash of the process, and the file stays consistent
  after a power loss (the last commits may be lost then); FULL would fsync every event row;
- ``foreign_keys=ON``: declared references are enforced (a file without any is unaffected);
- a busy timeout of ``BUSY_TIMEOUT_S``: a writer waits that long for another process's write (a large
  ``assist kb import`` is one transaction) before SQLite reports the database as locked.

The file is created 0600 in a folder created 0700 (``common.dbfiles``). The connection is shared by threads
under one lock and runs in autocommit mode; ``transaction()`` makes a group of statements atomic (inside
another, it joins that one: all or nothing together).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common.dbfiles import prepare_db_file

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 30.0
MEMORY = ":memory:"


class Database:
    """One SQLite connection guarded by a lock; ``path`` may be ``":memory:"`` (tests, throwaway runs)."""

    def __init__(self, path: str | Path, schema: str = "") -> None:
        self.path = str(path)
        prepare_db_file(self.path)  # before SQLite creates the file with the process's umask
        self._lock = threading.RLock()
        self._depth = 0  # transactions open on this connection (by the lock's owner); nested ones join the first
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                     timeout=BUSY_TIMEOUT_S)
        self._conn.row_factory = sqlite3.Row
        if self.path != MEMORY:
            self._set_wal()
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        if schema:
            self._conn.executescript(schema)

    def _set_wal(self) -> None:
        """Switch a file to WAL, waiting out other processes: on a file another process is creating at the same
        moment, SQLite answers ``database is locked`` at once, without its busy handler."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    @contextmanager
    def locked(self) -> Iterator[sqlite3.Connection]:
        """The connection, alone: for reads and single statements (each commits by itself)."""
        with self._lock:
            yield self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: ``BEGIN IMMEDIATE`` takes the write lock up front (no upgrade deadlock between
        processes), ``COMMIT`` on success, ``ROLLBACK`` on any exception, which is re-raised. Inside another
        transaction it joins that one: an exception rolls back the outer one too (``StoreWriter``'s groups)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                try:
                    yield self._conn
                finally:
                    self._depth = 0
                self._conn.execute("COMMIT")
            except BaseException:
                try:  # after a failed COMMIT too: the connection must not stay inside the transaction
                    self._conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.warning("rollback failed; the original error follows", exc_info=True)
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()
