"""The store tests on both engines: ``store_target`` is parametrized over ``sqlite`` and ``postgres``.

A pytest plugin (``pytest_plugins`` in tests/conftest.py): one throw-away PostgreSQL server for the whole run
(``eval.local_postgres``: Debian's binaries, unix socket only, run as the ``postgres`` user when the tests run
as root), a fresh database for every test. Where the server binaries or psycopg are missing, the ``postgres``
cases skip with the reason; ``.ci/run`` installs both.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from eval.local_postgres import LocalPostgres, available

BACKENDS = ("sqlite", "postgres")
StoreTarget = Callable[..., "str | Path"]
_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A running server; skips the test when PostgreSQL or psycopg is not installed."""
    if not available():
        pytest.skip("PostgreSQL's server binaries are not installed (apt-get install postgresql; .ci/run does)")
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[scale]')")
    with LocalPostgres() as server:
        yield server


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """A new, empty database on the session's server."""
    server: LocalPostgres = request.getfixturevalue("postgres_server")
    return server.create_database(f"test_{next(_names)}")


@pytest.fixture(params=BACKENDS)
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> StoreTarget:
    """``store_target("calls.db")``: what a store opens in this case: that SQLite file in ``tmp_path``, or the
    test's PostgreSQL database (one for every name: the stores share it, as with ``ASSIST_DATABASE_URL``)."""
    if request.param == "sqlite":
        return lambda name="store.db": tmp_path / name
    url: str = request.getfixturevalue("postgres_url")
    return lambda name="store.db": url
