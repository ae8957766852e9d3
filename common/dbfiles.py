"""Owner-only permissions for the SQLite files: transcripts, notes, articles and key hashes are nobody else's.

The database file is created 0600 before SQLite opens it, and SQLite gives its ``-wal``, ``-shm`` and journal
files the database file's own permissions, so they follow. Files left by an older version are tightened on
open. ``os.umask`` is not used: it is process-wide and would race with other threads creating files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700
SIDE_FILES = ("-wal", "-shm", "-journal")


def prepare_db_file(path: Path | str) -> None:
    """Create the folder (0700, when this creates it) and the file (0600); tighten files that already exist.

    ``":memory:"`` and SQLite URIs are left alone.
    """
    text = str(path)
    if text == ":memory:" or text.startswith("file:"):
        return
    db = Path(text)
    if not db.parent.exists():
        db.parent.mkdir(parents=True, mode=DIR_MODE, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for file in (db, *(db.with_name(db.name + suffix) for suffix in SIDE_FILES)):
        _restrict(file)


def _restrict(file: Path) -> None:
    try:
        mode = stat.S_IMODE(file.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        try:
            file.chmod(FILE_MODE)
        except PermissionError:  # someone else's file: SQLite will say so when it opens it
            log.warning("cannot restrict %s to owner-only access (mode %o)", file, mode)
