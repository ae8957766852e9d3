"""The one SQLite helper: owner-only files, one set of pragmas for every store, atomic transactions."""

from __future__ import annotations

import multiprocessing
import sqlite3
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from assist.auth import KeyStore
from assist.store import CallStore
from common.sqlite import BUSY_TIMEOUT_S, Database
from knowledge.store import KnowledgeStore

SCHEMA = "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _pragmas(db: Database) -> dict[str, object]:
    with db.locked() as conn:
        return {name: conn.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")}


def test_new_file_is_owner_only_in_a_new_private_folder(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "x.db"
    db = Database(path, SCHEMA)
    with db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES ('a', 1)")
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert _mode(path.with_name("x.db-wal")) == 0o600, "SQLite gives its side files the database's mode"
    db.close()


def test_existing_loose_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    Database(path).close()
    assert _mode(path) == 0o600


def test_one_set_of_pragmas(tmp_path: Path) -> None:
    db = Database(tmp_path / "p.db")
    assert _pragmas(db) == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1,
                            "busy_timeout": int(BUSY_TIMEOUT_S * 1000)}
    memory = Database(":memory:")
    assert _pragmas(memory)["journal_mode"] == "memory" and _pragmas(memory)["foreign_keys"] == 1
    assert not Path(":memory:").exists()


def test_every_store_opens_its_file_through_the_helper(tmp_path: Path) -> None:
    stores = [CallStore(tmp_path / "assist.db"), KeyStore(tmp_path / "assist.db"),
              KnowledgeStore(tmp_path / "knowledge.db")]
    expected = _pragmas(Database(tmp_path / "ref.db"))
    for store in stores:
        assert isinstance(store._db, Database)
        assert _pragmas(store._db) == expected, type(store).__name__
    assert _mode(tmp_path / "assist.db") == 0o600 and _mode(tmp_path / "knowledge.db") == 0o600


def test_transaction_commits_or_rolls_back_everything(tmp_path: Path) -> None:
    db = Database(tmp_path / "tx.db", SCHEMA)
    with db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES ('a', 1)")
        conn.execute("INSERT INTO t VALUES ('b', 2)")
    with pytest.raises(sqlite3.IntegrityError), db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES ('c', 3)")
        conn.execute("INSERT INTO t VALUES ('a', 4)")  # duplicate key: the whole transaction goes
    with pytest.raises(KeyError), db.transaction() as conn:
        conn.execute("UPDATE t SET v = 9")
        raise KeyError("any exception rolls back")
    with db.locked() as conn:
        assert dict(conn.execute("SELECT k, v FROM t ORDER BY k").fetchall()) == {"a": 1, "b": 2}
    other = sqlite3.connect(tmp_path / "tx.db")
    assert other.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 2, "committed for other connections too"
    other.close()


def test_a_writer_waits_for_another_processes_write_instead_of_failing(tmp_path: Path) -> None:
    db = Database(tmp_path / "busy.db", SCHEMA)
    other = sqlite3.connect(tmp_path / "busy.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES ('other', 1)")
    entered = threading.Event()
    done = threading.Event()

    def write() -> None:
        entered.set()
        with db.transaction() as conn:
            conn.execute("INSERT INTO t VALUES ('mine', 2)")
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert entered.wait(5)
    assert not done.wait(0.3), "the write lock is held elsewhere: our transaction must wait"
    other.execute("COMMIT")
    writer.join(10)
    assert done.is_set()
    with db.locked() as conn:
        assert {r[0] for r in conn.execute("SELECT k FROM t")} == {"other", "mine"}
    other.close()


def _open_new(path: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        Database(path, SCHEMA)
        results.put("ok")
    except Exception as e:  # any failure is an answer: the parent must not wait out a timeout to learn of it
        results.put(repr(e))


def test_processes_creating_one_new_file_at_once_all_open_it(tmp_path: Path) -> None:
    """Workers starting together on a fresh install: the WAL switch of a file being created must wait, not fail
    (without the wait about one opener in seven failed with ``database is locked`` here)."""
    # spawn, not fork: a child forked while another thread of the test process holds a lock (logging, a Ray or
    # SQLite thread of an earlier test) can hang before it answers
    ctx = multiprocessing.get_context("spawn")
    outcomes: list[str] = []
    for round_ in range(8):
        path = str(tmp_path / f"new{round_}.db")
        barrier, results = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_open_new, args=(path, barrier, results)) for _ in range(4)]
        for p in procs:
            p.start()
        outcomes += [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=60)
    assert outcomes == ["ok"] * 32
