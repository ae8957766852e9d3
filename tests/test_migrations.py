"""Alembic as the migration runner, on both engines: a database of the release before Alembic (``schema_version``)
is stamped and upgraded, a newer one is refused, two openers at once run each step once, the ``assist db`` CLI,
and an up-to-date store opens without loading Alembic."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from support.postgres import StoreTarget

from assist.auth import KEYS_SCHEMA, KeyStore
from assist.cli import main
from assist.store import MIGRATIONS, CallStore
from common.db import Connection, DatabaseError, Dialect, Migration, Store, connect, open_store
from common.migrations import current_version

ROOT = Path(__file__).resolve().parents[1]


def _old_release_migrate(db: Store, component: str, steps: Sequence[Migration]) -> None:
    """What the previous release's ``common.db.migrate`` did: run the steps, count them in ``schema_version``."""
    with db.transaction() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        for step in steps:
            if isinstance(step, str):
                for statement in db.dialect.ddl(step):
                    conn.execute(statement)
            else:
                step(conn, db.dialect)
        conn.execute("INSERT INTO schema_version (component, version) VALUES (?, ?)", (component, len(steps)))


def _version_row(target: str | Path, sql: str) -> object:
    db = connect(target)
    with db.locked() as conn:
        row = conn.execute(sql).fetchone()
    db.close()
    return row[0] if row else None


def test_a_database_of_the_release_before_alembic_is_stamped_and_upgraded(store_target: StoreTarget) -> None:
    target = store_target("old.db")
    old = connect(target)
    _old_release_migrate(old, "calls", MIGRATIONS[:2])
    _old_release_migrate(old, "keys", (KEYS_SCHEMA,))
    with old.transaction() as conn:
        conn.execute("INSERT INTO calls (id, started, state) VALUES ('old', 1.0, 'ended')")
    old.close()

    store = CallStore(target)  # steps 3-4 only: a second run of step 3's ALTER TABLE would fail
    row = store.get_call("old")
    assert row is not None and row.state == "ended" and row.worker_id is None
    store.close()
    KeyStore(target).close()  # up to date: only stamped (its CREATE TABLE ... IF NOT EXISTS proves nothing)
    assert _version_row(target, "SELECT version_num FROM alembic_version_calls") == f"calls_{len(MIGRATIONS):04d}"
    assert _version_row(target, "SELECT version_num FROM alembic_version_keys") == "keys_0001"
    # the old row follows: a worker of the previous release now refuses the database instead of re-running steps
    assert _version_row(target, "SELECT version FROM schema_version WHERE component='calls'") == len(MIGRATIONS)
    CallStore(target).close()  # and opening again runs nothing (step 3's ALTER TABLE would fail)


def test_a_database_newer_than_the_code_is_refused(store_target: StoreTarget) -> None:
    target = store_target("new.db")
    old = connect(target)
    _old_release_migrate(old, "calls", (*MIGRATIONS, "CREATE TABLE later (x INTEGER)"))
    old.close()
    with pytest.raises(DatabaseError) as err:
        CallStore(target)
    assert err.value.code == "schema_too_new" and f"up to {len(MIGRATIONS)}" in err.value.message
    steps = ("CREATE TABLE f (x INTEGER)", "CREATE TABLE g (x INTEGER)")
    open_store(target, "fresh", steps).close()  # versioned by Alembic this time
    with pytest.raises(DatabaseError) as err:
        open_store(target, "fresh", steps[:1])
    assert err.value.code == "schema_too_new" and "version 2" in err.value.message


def test_two_openers_at_once_run_each_step_once(store_target: StoreTarget) -> None:
    target = store_target("race.db")
    connect(target).close()  # the file exists (in WAL mode) before its workers start
    ran: list[str] = []
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def slow(conn: Connection, dialect: Dialect) -> None:
        ran.append("slow")
        time.sleep(0.3)  # the other opener is waiting for the lock by now
        conn.execute("INSERT INTO race (x) VALUES (1)")

    steps = ("CREATE TABLE race (x INTEGER)", slow)

    def opener() -> None:
        start.wait()
        try:
            open_store(target, "race", steps).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and ran == ["slow"]
    db = connect(target)
    with db.locked() as conn:
        assert conn.execute("SELECT COUNT(*) FROM race").fetchone()[0] == 1
    assert current_version(db, "race") == 2
    db.close()


def test_db_cli_current_and_upgrade(store_target: StoreTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    target = store_target("assist.db")
    monkeypatch.setenv("ASSIST_HOME", str(tmp_path))
    if isinstance(target, str):
        monkeypatch.setenv("ASSIST_DATABASE_URL", target)
    old = connect(target)
    _old_release_migrate(old, "calls", MIGRATIONS[:3])
    old.close()
    assert main(["db", "current", "--json"]) == 0
    rows = {r["store"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["calls"]["version"] == 3 and rows["calls"]["state"] == "behind"
    assert rows["knowledge"]["version"] == 0 and rows["knowledge"]["head"] == 1
    assert main(["db", "upgrade", "--json"]) == 0
    rows = {r["store"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["calls"]["version"] == len(MIGRATIONS) and rows["calls"]["upgraded_from"] == 3
    assert {r["state"] for r in rows.values()} == {"current"}
    assert "hunter" not in json.dumps(rows) and all(r["database"] for r in rows.values())
    db = connect(target)
    with db.transaction() as conn:
        conn.execute("UPDATE alembic_version_keys SET version_num='keys_0007'")
    db.close()
    assert main(["db", "upgrade"]) == 2
    assert "[schema_too_new]" in capsys.readouterr().err


def test_an_up_to_date_store_opens_without_alembic(tmp_path: Path) -> None:
    CallStore(tmp_path / "calls.db").close()
    code = ("import sys; from assist.store import CallStore; CallStore(sys.argv[1]).close(); "
            "print(sorted(m for m in ('alembic', 'sqlalchemy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "calls.db")], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert out.strip() == "[]"
