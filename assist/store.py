"""Call history in SQLite (WAL) or PostgreSQL (``common.db``): calls, final utterances, every emitted event, suggestions shown,
feedback and notes. Rows are written as they happen, so a crash loses nothing already emitted; the calls of a
worker that died are marked ``interrupted`` by another (``assist/reaper.py``).

All text reaching this module is already PII-masked by the session. Methods are synchronous and
thread-safe; the live service calls them from ``StoreWriter``'s thread or from executors, never on
the event loop.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from assist.store_insights import INSIGHTS_SCHEMA, InsightsStore
from common.db import SQLITE, Connection, Dialect, Migration, Row, open_store

log = logging.getLogger(__name__)

FeedbackAction = Literal["shown", "clicked", "copied", "used", "dismissed"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY,
    started REAL NOT NULL,
    ended REAL,
    state TEXT NOT NULL CHECK (state IN ('live', 'ended', 'interrupted')),
    language TEXT,
    source TEXT,
    legs TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    end_reason TEXT,
    epoch INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS calls_started ON calls (started);
CREATE TABLE IF NOT EXISTS utterances (
    call_id TEXT NOT NULL REFERENCES calls (id),
    utterance_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    leg TEXT NOT NULL,
    text TEXT NOT NULL,
    start REAL,
    "end" REAL,
    created REAL NOT NULL,
    PRIMARY KEY (call_id, utterance_id)
);
CREATE TABLE IF NOT EXISTS events (
    call_id TEXT NOT NULL REFERENCES calls (id),
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    ts REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (call_id, seq)
);
CREATE TABLE IF NOT EXISTS suggestions (
    call_id TEXT NOT NULL REFERENCES calls (id),
    utterance_id TEXT NOT NULL,
    article_id TEXT NOT NULL,
    title TEXT,
    rank INTEGER NOT NULL,
    score REAL,
    query TEXT,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS suggestions_call ON suggestions (call_id);
CREATE INDEX IF NOT EXISTS suggestions_article ON suggestions (article_id);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL REFERENCES calls (id),
    article_id TEXT NOT NULL,
    action TEXT NOT NULL,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_call ON feedback (call_id);
CREATE TABLE IF NOT EXISTS summaries (
    call_id TEXT PRIMARY KEY REFERENCES calls (id),
    notes TEXT NOT NULL,
    generated TEXT NOT NULL,
    edited INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class CallRow:
    id: str
    started: float
    ended: float | None
    state: str
    language: str | None
    source: str | None
    legs: list[str]
    metadata: dict[str, str]
    end_reason: str | None
    epoch: int = 0  # how many times the call was reopened (reconnects)
    worker_id: str | None = None  # the worker that runs (or last ran) it; None: stored before worker ids

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


def _add_epoch(conn: Connection, dialect: Dialect) -> None:
    """SQLite files written before reconnect epochs existed lack ``calls.epoch``; their calls are epoch 0."""
    if dialect is SQLITE and "epoch" not in {r["name"] for r in conn.execute("PRAGMA table_info(calls)")}:
        conn.execute("ALTER TABLE calls ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0")


# Which worker runs each call, and the calls taken over from a dead worker whose notes are still owed
# (``orphans``: the reaper that owes them; a row is removed once the notes are written or the call reopens).
_WORKER_IDS = """
ALTER TABLE calls ADD COLUMN worker_id TEXT;
CREATE INDEX IF NOT EXISTS calls_state ON calls (state, worker_id);
CREATE TABLE IF NOT EXISTS orphans (
    call_id TEXT PRIMARY KEY REFERENCES calls (id),
    worker_id TEXT NOT NULL,
    since REAL NOT NULL
);
"""

# Versioned schema (Alembic revisions, ``common.migrations``): append a step for every change, never edit one that shipped.
MIGRATIONS: tuple[Migration, ...] = (SCHEMA, _add_epoch, _WORKER_IDS, INSIGHTS_SCHEMA)


class CallStore(InsightsStore):
    """A SQLite file (``path``) or a PostgreSQL database (a ``postgresql://`` URL); one connection guarded by a
    lock (WAL keeps readers of other processes free)."""

    def __init__(self, path: Path | str) -> None:
        # SQLite: 0600 file, 0700 folder: transcripts are nobody else's
        self._db = open_store(path, "calls", MIGRATIONS)
        self._dialect = self._db.dialect

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._db.locked() as db:
            return db.execute(sql, params).fetchall()

    # ------------------------------------------------------------ writes

    def interrupt_calls(self, worker_id: str | None, *, by: str) -> list[str]:
        """Take the ``live`` calls of the dead worker ``worker_id`` (``None``: calls stored before worker ids):
        marked interrupted as of their last event, their notes owed by ``by``. One UPDATE, so of several
        reapers exactly one takes each call; returns the ids taken."""
        now = time.time()
        with self._db.transaction() as db:
            rows = db.execute("UPDATE calls SET state='interrupted', end_reason='interrupted', ended=COALESCE("
                              "(SELECT MAX(ts) FROM events WHERE call_id=calls.id), ?) WHERE state='live' AND "
                              f"worker_id {self._dialect.is_} ? RETURNING id", (now, worker_id)).fetchall()
            ids = [r[0] for r in rows]
            if ids:
                db.executemany("INSERT INTO orphans (call_id, worker_id, since) VALUES (?, ?, ?) ON CONFLICT "
                               "(call_id) DO UPDATE SET worker_id=excluded.worker_id", [(i, by, now) for i in ids])
        return ids

    def adopt_orphans(self, worker_id: str, *, by: str) -> list[str]:
        """The notes a dead reaper still owed become ``by``'s; returns their call ids."""
        with self._db.transaction() as db:
            rows = db.execute("UPDATE orphans SET worker_id=? WHERE worker_id=? RETURNING call_id",
                              (by, worker_id)).fetchall()
        return [r[0] for r in rows]

    def settle_orphan(self, call_id: str, *, by: str) -> bool:
        """Inside ``batch()``, before writing the notes ``by`` owes: ``False`` (write nothing) when the call was
        reopened since or another reaper owes them now."""
        with self._db.transaction() as db:
            cur = db.execute("DELETE FROM orphans WHERE call_id=? AND worker_id=? AND call_id IN "
                             "(SELECT id FROM calls WHERE state='interrupted')", (call_id, by))
            return cur.rowcount == 1

    def create_call(self, call_id: str, *, language: str | None, source: str, legs: Sequence[str],
                    metadata: dict[str, str] | None = None, started: float | None = None,
                    same_owner: bool = False, worker_id: str | None = None) -> int | None:
        """Insert a call (epoch 0) or reopen a stored one with the next epoch; returns the epoch.

        A reopened call keeps its rows, metadata and owner and continues its seq; its new utterances get
        epoch-prefixed ids, so nothing is overwritten. ``same_owner``: reopen only when the stored
        ``owner`` equals ``metadata['owner']`` (``None`` is returned otherwise and nothing changes).
        ``worker_id``: the worker that runs it from now on; a reopened call's owed notes are its own again.
        """
        meta = metadata or {}
        owner = self._dialect.json_text("calls.metadata", "owner")
        guard = f" WHERE {owner} {self._dialect.is_} ?" if same_owner else ""
        params: list[Any] = [call_id, started or time.time(), language, source, json.dumps(list(legs)),
                             json.dumps(meta, ensure_ascii=False), worker_id]
        with self._db.transaction() as db:
            cur = db.execute(
                "INSERT INTO calls (id, started, state, language, source, legs, metadata, worker_id) "
                "VALUES (?, ?, 'live', ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state='live', ended=NULL, "
                "end_reason=NULL, epoch=calls.epoch + 1, worker_id=excluded.worker_id" + guard,
                params + ([meta.get("owner")] if same_owner else []),
            )
            if not cur.rowcount:
                return None
            epoch = int(db.execute("SELECT epoch FROM calls WHERE id=?", (call_id,)).fetchone()[0])
            if epoch:
                db.execute("DELETE FROM orphans WHERE call_id=?", (call_id,))
            return epoch

    def end_call(self, call_id: str, *, reason: str, ended: float | None = None) -> None:
        with self._db.transaction() as db:
            db.execute("UPDATE calls SET state='ended', ended=?, end_reason=? WHERE id=?",
                       (ended or time.time(), reason, call_id))

    def add_events(self, rows: Sequence[tuple[str, int, str, float, str]]) -> None:
        """(call_id, seq, type, ts, json body) rows, committed together."""
        with self._db.transaction() as db:
            db.executemany("INSERT INTO events (call_id, seq, type, ts, body) VALUES (?, ?, ?, ?, ?) "
                           "ON CONFLICT (call_id, seq) DO UPDATE SET type=excluded.type, ts=excluded.ts, "
                           "body=excluded.body", rows)

    def add_utterance(self, call_id: str, utterance_id: str, *, leg: str, text: str,
                      start: float | None, end: float | None) -> bool:
        """Append one final utterance; an id already stored is never replaced (``False``, logged)."""
        with self._db.transaction() as db:
            idx = db.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM utterances WHERE call_id=?",
                             (call_id,)).fetchone()[0]
            cur = db.execute(
                'INSERT INTO utterances (call_id, utterance_id, idx, leg, text, start, "end", created) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (call_id, utterance_id) DO NOTHING",
                (call_id, utterance_id, idx, leg, text, start, end, time.time()),
            )
        if not cur.rowcount:
            log.warning("call %s: utterance %s is already stored; the new one is dropped", call_id, utterance_id)
        return bool(cur.rowcount)

    def add_suggestions(self, call_id: str, utterance_id: str, query: str,
                        items: Sequence[tuple[str, str, int, float]]) -> None:
        """(article_id, title, rank, score) per card shown."""
        now = time.time()
        with self._db.transaction() as db:
            db.executemany(
                "INSERT INTO suggestions (call_id, utterance_id, article_id, title, rank, score, query, ts) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(call_id, utterance_id, a, t, r, s, query, now) for a, t, r, s in items],
            )

    def add_feedback(self, call_id: str, article_id: str, action: FeedbackAction) -> int:
        with self._db.transaction() as db:
            row = db.execute("INSERT INTO feedback (call_id, article_id, action, ts) VALUES (?, ?, ?, ?) "
                             "RETURNING id", (call_id, article_id, action, time.time())).fetchone()
            return int(row[0])

    def save_summary(self, call_id: str, notes: dict[str, Any], *, edited: bool = False) -> None:
        """The generated notes are kept beside the agent's edits, for measuring how much agents change.

        Generated notes (``edited=False``, e.g. at the end of a reconnected call) replace only ``generated``
        once an agent has edited the notes: an agent's edit is never overwritten by a machine."""
        body = json.dumps(notes, ensure_ascii=False)
        now = time.time()
        with self._db.transaction() as db:
            if edited:
                cur = db.execute("UPDATE summaries SET notes=?, edited=1, updated=? WHERE call_id=?",
                                 (body, now, call_id))
                if cur.rowcount:
                    return
            db.execute(
                "INSERT INTO summaries (call_id, notes, generated, edited, created, updated) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (call_id) DO UPDATE SET "
                "notes=CASE WHEN summaries.edited <> 0 THEN summaries.notes ELSE excluded.notes END, "
                "generated=excluded.generated, "
                "edited=CASE WHEN summaries.edited <> 0 THEN summaries.edited ELSE excluded.edited END, "
                "updated=excluded.updated",
                (call_id, body, body, int(edited), now, now),
            )

    def redact_utterance(self, call_id: str, utterance_id: str, text: str,
                         fragments: Sequence[tuple[str, str]] = ()) -> None:
        """Masking found, later, personal data that began in this utterance (a number read across two
        finals): its stored text and transcript events take the masked ``text``, and each ``(raw, label)``
        fragment is replaced in the search queries built from it (suggestion rows and events)."""
        with self._db.transaction() as db:
            db.execute("UPDATE utterances SET text=? WHERE call_id=? AND utterance_id=?", (text, call_id, utterance_id))
            rows = db.execute("SELECT seq, type, body FROM events WHERE call_id=? AND type IN ('transcript', "
                              f"'suggestions') AND {self._dialect.json_text('body', 'utterance_id')}=?",
                              (call_id, utterance_id)).fetchall()
            for row in rows:
                body = redact_event_body(row["type"], row["body"], utterance_id, text, fragments)
                if body is not None:
                    db.execute("UPDATE events SET body=? WHERE call_id=? AND seq=?", (body, call_id, row["seq"]))
            queries = db.execute("SELECT DISTINCT query FROM suggestions WHERE call_id=? AND utterance_id=? "
                                 "AND query IS NOT NULL", (call_id, utterance_id)).fetchall()
            for row in queries:  # rows with the same query scrub the same way (suggestions have no key)
                query = _scrub(row["query"], fragments)
                if query != row["query"]:
                    db.execute("UPDATE suggestions SET query=? WHERE call_id=? AND utterance_id=? AND query=?",
                               (query, call_id, utterance_id, row["query"]))

    # ------------------------------------------------------------ reads

    def get_call(self, call_id: str) -> CallRow | None:
        rows = self._query("SELECT * FROM calls WHERE id=?", (call_id,))
        return _call_row(rows[0]) if rows else None

    def list_calls(self, *, limit: int = 50, offset: int = 0, state: str | None = None,
                   owner: str | None = None) -> list[CallRow]:
        """``owner``: only calls streamed with that API key (an agent's own calls)."""
        where = [c for c, v in (("state=?", state), (self._dialect.json_text("metadata", "owner") + "=?", owner))
                 if v]
        sql = ("SELECT * FROM calls" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY started DESC LIMIT ? OFFSET ?")
        params: list[Any] = [v for v in (state, owner) if v] + [limit, offset]
        return [_call_row(r) for r in self._query(sql, params)]

    def workers_with_calls(self) -> set[str | None]:
        """Workers that run live calls or owe notes (the reaper's candidates); ``None``: calls stored before
        worker ids."""
        rows = self._query("SELECT DISTINCT worker_id FROM calls WHERE state='live' "
                           "UNION SELECT DISTINCT worker_id FROM orphans")
        return {r[0] for r in rows}

    def owed_notes(self, worker_id: str) -> list[str]:
        rows = self._query("SELECT call_id FROM orphans WHERE worker_id=? ORDER BY since", (worker_id,))
        return [r[0] for r in rows]

    def last_seq(self, call_id: str) -> int:
        rows = self._query("SELECT MAX(seq) FROM events WHERE call_id=?", (call_id,))
        return int(rows[0][0] or 0)

    def events_after(self, call_id: str, after_seq: int, *, limit: int = 100_000) -> list[dict[str, Any]]:
        rows = self._query("SELECT body FROM events WHERE call_id=? AND seq>? ORDER BY seq LIMIT ?",
                           (call_id, after_seq, limit))
        return [json.loads(r["body"]) for r in rows]

    def event_bodies_after(self, call_id: str, after_seq: int) -> list[tuple[int, str, str]]:
        """(seq, type, JSON body) of the events after ``after_seq``, for replay without re-encoding."""
        rows = self._query("SELECT seq, type, body FROM events WHERE call_id=? AND seq>? ORDER BY seq",
                           (call_id, after_seq))
        return [(r["seq"], r["type"], r["body"]) for r in rows]

    def utterances(self, call_id: str) -> list[dict[str, Any]]:
        rows = self._query('SELECT utterance_id, idx, leg, text, start, "end" FROM utterances WHERE call_id=? '
                           "ORDER BY idx", (call_id,))
        return [dict(r) for r in rows]

    def suggestions(self, call_id: str) -> list[dict[str, Any]]:
        rows = self._query("SELECT utterance_id, article_id, title, rank, score, query, ts FROM suggestions "
                           "WHERE call_id=? ORDER BY ts, rank", (call_id,))
        return [dict(r) for r in rows]

    def feedback(self, call_id: str) -> list[dict[str, Any]]:
        rows = self._query("SELECT id, article_id, action, ts FROM feedback WHERE call_id=? ORDER BY id", (call_id,))
        return [dict(r) for r in rows]

    def summary(self, call_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT notes, generated, edited, created, updated FROM summaries WHERE call_id=?",
                           (call_id,))
        if not rows:
            return None
        r = rows[0]
        return {"notes": json.loads(r["notes"]), "generated": json.loads(r["generated"]),
                "edited": bool(r["edited"]), "created": r["created"], "updated": r["updated"]}

    def call_detail(self, call_id: str) -> dict[str, Any] | None:
        """Everything about one call, for the REST API and ``assist calls show/export``."""
        call = self.get_call(call_id)
        if call is None:
            return None
        return {**call.to_dict(), "utterances": self.utterances(call_id), "suggestions": self.suggestions(call_id),
                "feedback": self.feedback(call_id), "summary": self.summary(call_id), "qa": self.qa(call_id)}

    def batch(self) -> AbstractContextManager[object]:
        """Writes made inside commit together, or not at all (``StoreWriter``'s group commit)."""
        return self._db.transaction()

    def close(self) -> None:
        self._db.close()


def _scrub(text: str, fragments: Sequence[tuple[str, str]]) -> str:
    for raw, label in fragments:
        text = text.replace(raw, label)
    return text


def redact_event_body(type_: str, body: str, utterance_id: str, text: str,
                      fragments: Sequence[tuple[str, str]] = ()) -> str | None:
    """An event's JSON with an utterance redacted (see ``CallStore.redact_utterance``); ``None`` if unchanged."""
    if utterance_id not in body:
        return None
    data = json.loads(body)
    if data.get("utterance_id") != utterance_id:
        return None
    if type_ == "transcript" and data.get("text") != text:
        data["text"] = text
        data.pop("uncertain", None)  # spans of the old text; the re-sent final carries the new text's
    elif type_ == "suggestions" and isinstance(data.get("query"), str) and fragments:
        query = _scrub(data["query"], fragments)
        if query == data["query"]:
            return None
        data["query"] = query
    else:
        return None
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _call_row(r: Row) -> CallRow:
    return CallRow(id=r["id"], started=r["started"], ended=r["ended"], state=r["state"], language=r["language"],
                   source=r["source"], legs=json.loads(r["legs"]), metadata=json.loads(r["metadata"]),
                   end_reason=r["end_reason"], epoch=r["epoch"], worker_id=r["worker_id"])


Write = Callable[[CallStore], object]
Callback = Callable[[], object]

