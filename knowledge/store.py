"""Article store with a revision history, in SQLite or PostgreSQL (``common.db``).

One connection guarded by a lock; writers take turns (SQLite serializes them anyway, PostgreSQL through an
advisory lock), so the revision counter never skips or repeats; on SQLite, WAL lets other processes read
while we write. Every change bumps the knowledge base's own revision counter, which names the search index
built from it, so a stale index is recognised by its file name alone.
"""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from common.db import Connection, Migration, Row, open_store
from knowledge.article import Article, utcnow

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kb_articles (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    revision INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kb_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('upsert', 'delete')),
    data TEXT,
    changed_at TEXT NOT NULL,
    kb_revision INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS kb_history_article ON kb_history (article_id, seq);
CREATE TABLE IF NOT EXISTS kb_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class UpsertResult:
    article: Article
    action: Literal["created", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    article_id: str
    revision: int
    action: Literal["upsert", "delete"]
    changed_at: datetime
    kb_revision: int
    article: Article | None


def _content(article: Article) -> str:
    return article.model_dump_json(exclude={"revision", "updated_at"})

# Versioned schema (Alembic revisions, common.migrations): append a step for every change, never edit a shipped one.
MIGRATIONS: tuple[Migration, ...] = (_SCHEMA,)


class KnowledgeStore:
    """Thread-safe article store; ``path`` may be ``":memory:"`` for tests and throwaway evaluations, or a
    ``postgresql://`` URL."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        # SQLite: 0600 file, 0700 folder
        self._db = open_store(path, "knowledge", MIGRATIONS, serialize_writes=True)

    def close(self) -> None:
        self._db.close()

    # ---- reads -------------------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        """The knowledge base's revision: bumped by every effective change."""
        with self._db.locked() as db:
            row = db.execute("SELECT value FROM kb_meta WHERE key = 'revision'").fetchone()
        return int(row["value"]) if row else 0

    def count(self) -> int:
        with self._db.locked() as db:
            return int(db.execute("SELECT COUNT(*) FROM kb_articles").fetchone()[0])

    def get(self, article_id: str) -> Article | None:
        with self._db.locked() as db:
            row = db.execute("SELECT * FROM kb_articles WHERE id = ?", (article_id,)).fetchone()
        return self._article(row) if row else None

    def list(self, *, category: str | None = None, language: str | None = None, limit: int | None = None,
             offset: int = 0) -> list[Article]:
        articles = []
        with self._db.locked() as db:
            rows = db.execute(f"SELECT * FROM kb_articles ORDER BY {self._db.dialect.text_order('id')}").fetchall()
        for row in rows:
            article = self._article(row)
            if (category is None or article.category == category) and (
                language is None or article.language == language
            ):
                articles.append(article)
        end = None if limit is None else offset + limit
        return articles[offset:end]

    # annotations below ``def list`` name the builtin as ``builtins.list``: plain ``list`` is that method here
    def all(self) -> builtins.list[Article]:
        return self.list()

    def history(self, article_id: str) -> builtins.list[HistoryEntry]:
        with self._db.locked() as db:
            rows = db.execute(
                "SELECT * FROM kb_history WHERE article_id = ? ORDER BY seq", (article_id,)
            ).fetchall()
        return [
            HistoryEntry(
                article_id=row["article_id"], revision=row["revision"], action=row["action"],
                changed_at=datetime.fromisoformat(row["changed_at"]), kb_revision=row["kb_revision"],
                article=Article.model_validate_json(row["data"]) if row["data"] else None,
            )
            for row in rows
        ]

    # ---- writes ------------------------------------------------------------------------------------

    def upsert(self, article: Article) -> UpsertResult:
        return self.upsert_many([article])[0]

    def upsert_many(self, articles: Iterable[Article]) -> builtins.list[UpsertResult]:
        """All or nothing: one transaction; identical content keeps its revision."""
        results: builtins.list[UpsertResult] = []
        with self._db.transaction() as conn:
            kb_revision = self._read_revision(conn)
            bumped = False
            for article in articles:
                row = conn.execute("SELECT * FROM kb_articles WHERE id = ?", (article.id,)).fetchone()
                if row is not None and row["data"] == _content(article):
                    results.append(UpsertResult(self._article(row), "unchanged"))
                    continue
                if not bumped:
                    kb_revision, bumped = kb_revision + 1, True
                now = utcnow()
                stored = article.model_copy(update={
                    "revision": (row["revision"] + 1) if row else 1, "updated_at": now,
                })
                conn.execute(
                    "INSERT INTO kb_articles (id, data, revision, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET data = excluded.data, revision = excluded.revision, "
                    "updated_at = excluded.updated_at",
                    (stored.id, _content(stored), stored.revision, now.isoformat()),
                )
                conn.execute(
                    "INSERT INTO kb_history (article_id, revision, action, data, changed_at, kb_revision) "
                    "VALUES (?, ?, 'upsert', ?, ?, ?)",
                    (stored.id, stored.revision, stored.model_dump_json(), now.isoformat(),
                     kb_revision),
                )
                results.append(UpsertResult(stored, "updated" if row else "created"))
            if bumped:
                self._write_revision(conn, kb_revision)
        return results

    def delete(self, article_id: str) -> bool:
        """Remove an article (its history stays); False when there was none."""
        with self._db.transaction() as conn:
            row = conn.execute("SELECT revision FROM kb_articles WHERE id = ?", (article_id,)).fetchone()
            if row is None:
                return False
            kb_revision = self._read_revision(conn) + 1
            conn.execute("DELETE FROM kb_articles WHERE id = ?", (article_id,))
            conn.execute(
                "INSERT INTO kb_history (article_id, revision, action, data, changed_at, kb_revision) "
                "VALUES (?, ?, 'delete', NULL, ?, ?)",
                (article_id, row["revision"], utcnow().isoformat(), kb_revision),
            )
            self._write_revision(conn, kb_revision)
        return True

    # ---- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _read_revision(conn: Connection) -> int:
        row = conn.execute("SELECT value FROM kb_meta WHERE key = 'revision'").fetchone()
        return int(row["value"]) if row else 0

    @staticmethod
    def _write_revision(conn: Connection, value: int) -> None:
        conn.execute(
            "INSERT INTO kb_meta (key, value) VALUES ('revision', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(value),),
        )

    @staticmethod
    def _article(row: Row) -> Article:
        data = json.loads(row["data"])
        data["revision"] = row["revision"]
        data["updated_at"] = row["updated_at"]
        return Article.model_validate(data)
