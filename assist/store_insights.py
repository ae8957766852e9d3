"""The call store's tables for what QA and knowledge managers read after the calls: per-call QA metrics
(``call_qa``) and every customer request with what the knowledge base answered (``kb_requests``).

A mixin of ``CallStore`` (same connection, same migrations, SQLite and PostgreSQL alike). Request texts are
not copied: they are read from ``utterances`` when asked for, so a number masked after the fact
(``CallStore.redact_utterance``) is masked here too. Whether the agent dismissed a request's cards is read
from ``feedback`` at that time as well, so a thumbs-down given after the call still counts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from common.db import Dialect, Row, Store

RequestOutcome = Literal["cards", "no_card", "low_confidence"]
GapReason = Literal["no_card", "low_confidence", "dismissed"]

# A step of ``assist.store.MIGRATIONS``; never edit it once shipped, append another.
INSIGHTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS call_qa (
    call_id TEXT PRIMARY KEY REFERENCES calls (id),
    metrics TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS kb_requests (
    call_id TEXT NOT NULL REFERENCES calls (id),
    utterance_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('cards', 'no_card', 'low_confidence')),
    confidence TEXT,
    articles TEXT NOT NULL DEFAULT '[]',
    language TEXT,
    ts REAL NOT NULL,
    PRIMARY KEY (call_id, utterance_id)
);
CREATE INDEX IF NOT EXISTS kb_requests_ts ON kb_requests (ts);
"""

_FEEDBACK_ON = ("EXISTS (SELECT 1 FROM suggestions s JOIN feedback f ON f.call_id = s.call_id AND "
                "f.article_id = s.article_id WHERE s.call_id = r.call_id AND s.utterance_id = r.utterance_id AND "
                "f.action IN ({}))")
_DISMISSED = ("CASE WHEN " + _FEEDBACK_ON.format("'dismissed'") + " AND NOT " + _FEEDBACK_ON.format("'used', 'copied'")
              + " THEN 1 ELSE 0 END")


@dataclass(frozen=True, slots=True)
class RequestRow:
    """A customer request the knowledge base failed: its masked text and why it counts as a gap."""

    call_id: str
    utterance_id: str
    text: str
    kind: str
    reason: GapReason
    articles: list[str]
    language: str | None
    ts: float

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


class InsightsStore:
    """``CallStore``'s QA and knowledge-gap methods (it provides ``_db`` and ``_dialect``)."""

    _db: Store
    _dialect: Dialect

    # ------------------------------------------------------------ QA

    def save_qa(self, call_id: str, metrics: dict[str, Any]) -> None:
        """A call's metrics (``assist.qa.QaMetrics`` as JSON); a reconnected call's replace its earlier ones."""
        body = json.dumps(metrics, ensure_ascii=False)
        with self._db.transaction() as db:
            db.execute("INSERT INTO call_qa (call_id, metrics, created) VALUES (?, ?, ?) ON CONFLICT (call_id) "
                       "DO UPDATE SET metrics=excluded.metrics, created=excluded.created", (call_id, body, time.time()))

    def qa(self, call_id: str) -> dict[str, Any] | None:
        with self._db.locked() as db:
            row = db.execute("SELECT metrics FROM call_qa WHERE call_id=?", (call_id,)).fetchone()
        return json.loads(row["metrics"]) if row else None

    def qa_calls(self, since: float, until: float) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(call, metrics) of the calls started in ``[since, until)`` that have metrics, oldest first."""
        with self._db.locked() as db:
            rows = db.execute("SELECT c.id, c.started, c.ended, c.state, c.language, c.metadata, q.metrics FROM "
                              "calls c JOIN call_qa q ON q.call_id = c.id WHERE c.started >= ? AND c.started < ? "
                              "ORDER BY c.started, c.id", (since, until)).fetchall()
        return [({"id": r["id"], "started": r["started"], "ended": r["ended"], "state": r["state"],
                  "language": r["language"], "metadata": json.loads(r["metadata"])}, json.loads(r["metrics"]))
                for r in rows]

    def alert_count(self, call_id: str) -> int:
        """``alert`` events stored for the call."""
        with self._db.locked() as db:
            row = db.execute("SELECT COUNT(*) FROM events WHERE call_id=? AND type='alert'", (call_id,)).fetchone()
        return int(row[0])

    # ------------------------------------------------------------ knowledge gaps

    def add_request(self, call_id: str, utterance_id: str, *, kind: str, outcome: RequestOutcome,
                    confidence: str | None, articles: Sequence[str], language: str | None,
                    ts: float | None = None) -> None:
        """One customer request (or complaint) and what retrieval answered for it."""
        with self._db.transaction() as db:
            db.execute("INSERT INTO kb_requests (call_id, utterance_id, kind, outcome, confidence, articles, language, "
                       "ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (call_id, utterance_id) DO UPDATE SET "
                       "kind=excluded.kind, outcome=excluded.outcome, confidence=excluded.confidence, "
                       "articles=excluded.articles, language=excluded.language",
                       (call_id, utterance_id, kind, outcome, confidence, json.dumps(list(articles)), language,
                        ts or time.time()))

    def request_count(self, since: float, until: float) -> int:
        """Customer requests recorded in ``[since, until)``: the denominator of the gap rate."""
        with self._db.locked() as db:
            row = db.execute("SELECT COUNT(*) FROM kb_requests WHERE ts >= ? AND ts < ?", (since, until)).fetchone()
        return int(row[0])

    def kb_gaps(self, since: float, until: float, *, limit: int = 5000) -> list[RequestRow]:
        """The requests of ``[since, until)`` that got no card, only low-confidence cards, or cards the agent
        dismissed (👎 and none used or copied), newest first."""
        sql = (f"SELECT * FROM (SELECT r.call_id, r.utterance_id, r.kind, r.outcome, r.articles, r.language, r.ts, "
               f"u.text, {_DISMISSED} AS dismissed FROM kb_requests r JOIN utterances u ON u.call_id = r.call_id "
               "AND u.utterance_id = r.utterance_id WHERE r.ts >= ? AND r.ts < ?) g "
               "WHERE g.outcome <> 'cards' OR g.dismissed = 1 ORDER BY g.ts DESC, g.call_id, g.utterance_id LIMIT ?")
        with self._db.locked() as db:
            rows = db.execute(sql, (since, until, limit)).fetchall()
        return [_gap(r) for r in rows]


def _gap(r: Row) -> RequestRow:
    reason: GapReason = "dismissed" if r["dismissed"] else r["outcome"]
    return RequestRow(call_id=r["call_id"], utterance_id=r["utterance_id"], text=r["text"], kind=r["kind"],
                      reason=reason, articles=json.loads(r["articles"]), language=r["language"], ts=r["ts"])
