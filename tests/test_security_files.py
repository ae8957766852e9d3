"""Database files are owner-only: the calls, knowledge and key databases, their -wal/-shm files and the folder."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from assist.auth import KeyStore
from assist.store import CallStore
from knowledge.store import KnowledgeStore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """A umask that would leave files world-readable, so the test proves the stores do not rely on it."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _write(kind: str, path: Path) -> object:
    if kind == "calls":
        store = CallStore(path)
        store.create_call("c1", language="ja", source="websocket", legs=["customer"], metadata={})
    elif kind == "keys":
        store = KeyStore(path)
        store.create("agent")
    else:
        store = KnowledgeStore(path)  # creating the schema writes to the WAL
    return store


@pytest.mark.parametrize("kind", ["calls", "keys", "knowledge"])
def test_new_database_and_folder_are_owner_only(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "home" / "nested" / f"{kind}.db"
    store = _write(kind, path)
    try:
        wal, shm = path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")
        assert path.exists() and wal.exists() and shm.exists()
        assert {f.name: _mode(f) for f in (path, wal, shm)} == {f.name: 0o600 for f in (path, wal, shm)}
        assert _mode(path.parent) == 0o700, "the folder the store creates is owner-only"
    finally:
        store.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["calls", "keys", "knowledge"])
def test_existing_files_are_tightened_on_open(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.db"
    _write(kind, path).close()  # type: ignore[attr-defined]
    wal = path.with_name(path.name + "-wal")
    wal.touch()
    for f in (path, wal):
        f.chmod(0o644)
    tmp_path.chmod(0o755)
    store = _write(kind, path)
    try:
        assert _mode(path) == 0o600 and _mode(wal) == 0o600
        assert _mode(path.with_name(path.name + "-shm")) == 0o600
        assert _mode(tmp_path) == 0o755, "a folder the operator made is left as it is"
    finally:
        store.close()  # type: ignore[attr-defined]
