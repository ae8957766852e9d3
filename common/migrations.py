"""Schema migrations, run by Alembic: each store's steps are the revisions of its own branch.

A store lists its steps (``Migration``: a SQL script written for SQLite, or a function of the connection and
dialect); step ``n`` (1-based) is the Alembic revision ``<component>_<n:04d>``, whose parent is step ``n - 1``.
The revisions are built from that tuple in memory, so the step list in the store's module stays the one source
of truth and a shipped step is never copied (or drifts). Each store keeps its own version table,
``alembic_version_<component>``, so the calls, keys, workers and knowledge stores upgrade independently in one
database.

Opening a store is the hot path (the tests open hundreds): the version table is read with the store's own
connection and Alembic (and SQLAlchemy) are only imported when the schema is behind. The upgrade itself is one
transaction that holds the cross-process migration lock (``BEGIN IMMEDIATE`` on SQLite, an advisory
transaction lock on PostgreSQL) and reads the version again under it, so two workers starting at once do not
both run a step: the second finds the work done.

A database from the release before Alembic has a ``schema_version`` row per store with the number of steps
run: it is stamped with that revision, the rest is run, and the row is set to the new count, so a worker of
the older release still refuses the database (``schema_too_new``) instead of re-running steps.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.db import (
    CONNECT_TIMEOUT_S,
    POSTGRES,
    SQLITE,
    Connection,
    DatabaseError,
    Dialect,
    Migration,
    PgConnection,
    Store,
    pg_rows,
    pg_sql,
    unreachable,
)

if TYPE_CHECKING:
    import sqlalchemy as sa
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)
# Alembic narrates every run at INFO ("Context impl SQLiteImpl", "Running upgrade"), which lands on the stderr of
# every CLI command that opens a new store; the one line below about an upgrade is the news an operator needs.
logging.getLogger("alembic").setLevel(logging.WARNING)

LEGACY_TABLE = "schema_version"
# Any one number the stores agree on: migrations of every store run one at a time across processes.
_MIGRATION_LOCK = 0x61737369  # "assi"


def version_table(component: str) -> str:
    return f"alembic_version_{component}"


def revision_id(component: str, version: int) -> str:
    """The Alembic revision of a store's ``version``-th step."""
    return f"{component}_{version:04d}"


def _version_of(revision: str) -> int:
    return int(revision.rsplit("_", 1)[1])


def current_version(db: Store, component: str) -> int:
    """How many of ``component``'s steps the database holds, read with the store's own connection (0: none)."""
    return _stored_version(db, component)[0]


def _stored_version(db: Store, component: str) -> tuple[int, bool]:
    """The version, and whether only the former ``schema_version`` table records it (not yet stamped)."""
    table = version_table(component)
    with db.locked() as conn:
        if _has_table(conn, db.dialect, table):
            row = conn.execute(f"SELECT version_num FROM {table}").fetchone()
            return (_version_of(row[0]) if row else 0), False
        if _has_table(conn, db.dialect, LEGACY_TABLE):
            row = conn.execute(f"SELECT version FROM {LEGACY_TABLE} WHERE component=?", (component,)).fetchone()
            if row:
                return int(row[0]), True
    return 0, False


def _has_table(conn: Connection, dialect: Dialect, table: str) -> bool:
    if dialect is SQLITE:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone() \
            is not None
    return bool(conn.execute("SELECT to_regclass(?) IS NOT NULL", (table,)).fetchone()[0])


def migrate(db: Store, component: str, migrations: Sequence[Migration], *, target: str | Path) -> int:
    """Bring ``component`` to its newest version; returns that version.

    One transaction: a step that fails leaves the schema as it was. A database newer than this code (a later
    release wrote it) is refused rather than written with an older idea of its tables. ``target`` is the
    PostgreSQL URL (Alembic runs on a connection of its own there); on SQLite it runs on the store's."""
    head = len(migrations)
    current, legacy = _stored_version(db, component)
    _refuse_newer(component, current, head)
    if current < head or legacy:  # behind, or up to date by the former table only: stamped once
        _upgrade(db, component, migrations, str(target))
    return head


def _refuse_newer(component: str, current: int, head: int) -> None:
    if current > head:
        raise DatabaseError("schema_too_new", f"the {component} schema is at version {current}; this release "
                            f"knows versions up to {head}: upgrade the service")


def _upgrade(db: Store, component: str, migrations: Sequence[Migration], url: str) -> None:
    import sqlalchemy as sa
    from alembic.runtime.migration import MigrationContext

    script = _script(component, migrations)
    head = revision_id(component, len(migrations))
    with _sa_connection(db, url) as conn, conn.begin():
        if db.dialect is POSTGRES:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        context = MigrationContext.configure(conn, opts={
            "version_table": version_table(component),
            "fn": lambda heads, _ctx: script._upgrade_revs(head, heads)})
        heads = context.get_current_heads()
        legacy = _legacy_version(conn, component)
        current = _version_of(heads[0]) if heads else (legacy or 0)
        _refuse_newer(component, current, len(migrations))
        if current and not heads:  # a database of the release before Alembic
            context.stamp(script, revision_id(component, current))
        raw: Any = conn.connection.driver_connection
        context.run_migrations(step_conn=_PgSteps(raw) if db.dialect is POSTGRES else raw, dialect=db.dialect)
        if legacy is not None:
            conn.execute(sa.text(f"UPDATE {LEGACY_TABLE} SET version=:v WHERE component=:c"),
                         {"v": len(migrations), "c": component})
    # a new database is no news; an upgrade is
    log.log(logging.INFO if current else logging.DEBUG, "%s schema: version %d -> %d", component, current,
            len(migrations))


def _legacy_version(conn: sa.Connection, component: str) -> int | None:
    import sqlalchemy as sa

    if not sa.inspect(conn).has_table(LEGACY_TABLE):
        return None
    row = conn.execute(sa.text(f"SELECT version FROM {LEGACY_TABLE} WHERE component=:c"), {"c": component}).first()
    return int(row[0]) if row else None


def _script(component: str, migrations: Sequence[Migration]) -> ScriptDirectory:
    """A script directory whose revisions are ``migrations`` (no files: see the module docstring)."""
    from alembic.script import Script, ScriptDirectory

    scripts = []
    for n, step in enumerate(migrations, start=1):
        rev = revision_id(component, n)
        module = types.ModuleType(rev, f"{component} schema, step {n}")
        module.revision = rev  # type: ignore[attr-defined]
        module.down_revision = revision_id(component, n - 1) if n > 1 else None  # type: ignore[attr-defined]
        module.upgrade = _runner(step)  # type: ignore[attr-defined]
        scripts.append(Script(module, rev, f"<{component} step {n}>"))

    class Revisions(ScriptDirectory):
        def _load_revisions(self) -> Iterator[Script]:
            yield from scripts

    return Revisions(str(Path(__file__).parent))


def _runner(step: Migration) -> Any:
    def upgrade(*, step_conn: Connection, dialect: Dialect) -> None:
        if isinstance(step, str):
            for statement in dialect.ddl(step):
                step_conn.execute(statement)
        else:
            step(step_conn, dialect)
    return upgrade


@contextmanager
def _sa_connection(db: Store, url: str) -> Iterator[sa.Connection]:
    """A SQLAlchemy connection for Alembic: on SQLite the store's own connection (a ``:memory:`` store has no
    other), whose transactions begin with ``BEGIN IMMEDIATE``; on PostgreSQL a new one to the same URL."""
    import sqlalchemy as sa

    if db.dialect is SQLITE:
        with db.locked() as raw:
            engine = sa.create_engine("sqlite://", creator=lambda: _Borrowed(raw), poolclass=sa.pool.NullPool)
            sa.event.listen(engine, "begin", lambda c: c.exec_driver_sql("BEGIN IMMEDIATE"))
            with engine.connect() as conn:
                yield conn
        return
    import psycopg

    def connect() -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, application_name="agent-assist migrate")
        except psycopg.OperationalError as exc:
            raise unreachable(exc) from exc

    engine = sa.create_engine("postgresql+psycopg://", creator=connect, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        yield conn


class _PgSteps(PgConnection):
    """Alembic's psycopg connection as the steps' ``Connection``: ``?`` SQL, rows by name too."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        return self.raw.cursor(row_factory=pg_rows).execute(pg_sql(sql), tuple(parameters))


class _Borrowed:
    """The store's sqlite3 connection lent to SQLAlchemy, which must not close it when done."""

    def __init__(self, raw: Any) -> None:
        object.__setattr__(self, "_raw", raw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._raw, name, value)

    def close(self) -> None:
        """The store keeps using it."""
