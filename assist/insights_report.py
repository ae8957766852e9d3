"""What the CLI, REST and the eval report share about QA and knowledge gaps: the date range a reader asks for
(``--since/--until``, ``?since=&until=``), the QA CSV of a range and the knowledge-gap report of a range."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from assist.gaps import cluster_gaps, threshold_for
from assist.qa import QaMetrics, csv_row, to_csv
from common.errors import CodedError, FieldIssue
from retrieval.base import Embedder

if TYPE_CHECKING:
    from assist.store import CallStore

DEFAULT_DAYS = 30  # a range without ``since`` covers the last 30 days
_NUMBER = re.compile(r"^\d{1,12}(?:\.\d+)?$")


class RangeError(CodedError):
    """``bad_date``: a bound is neither a date, an ISO date-time nor Unix seconds; ``bad_range``: it ends before
    it starts. ``fields`` names the parameter."""


def parse_bound(value: str | None, *, name: str, end: bool) -> float | None:
    """``2025-04-01`` (local midnight; as an end bound, the end of that day), an ISO date-time (local time unless
    it names its offset) or Unix seconds; ``None`` for nothing given."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _NUMBER.match(text):
        return float(text)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            return datetime(day.year, day.month, day.day).timestamp()
        return datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError) as exc:  # OverflowError/OSError: a year the clock cannot hold
        raise RangeError("bad_date", f"{name}: {value!r} is not a date (2025-04-01), an ISO date-time or Unix "
                         "seconds", [FieldIssue("bad_date", str(exc), field=name)]) from exc


def date_range(since: str | None, until: str | None, *, now: float | None = None) -> tuple[float, float]:
    """``[since, until)`` in Unix seconds; the last ``DEFAULT_DAYS`` days up to now by default."""
    now = time.time() if now is None else now
    end = parse_bound(until, name="until", end=True)
    end = now + 1.0 if end is None else end
    start = parse_bound(since, name="since", end=False)
    start = end - DEFAULT_DAYS * 86400 if start is None else start
    if end <= start:
        raise RangeError("bad_range", "until must come after since", [FieldIssue("bad_range", "empty range",
                                                                                  field="until")])
    return start, end


def qa_csv(store: CallStore, since: float, until: float) -> str:
    """The QA CSV of the calls started in ``[since, until)``: one row per call with metrics, oldest first."""
    return to_csv(csv_row(call, QaMetrics.model_validate(metrics)) for call, metrics in store.qa_calls(since, until))


def gap_report(store: CallStore, embedder: Embedder, since: float, until: float, *, threshold: float | None = None,
               limit: int = 5000) -> dict[str, Any]:
    """Knowledge gaps of ``[since, until)`` clustered: the largest groups first (``assist.gaps``), with the request
    count they come from."""
    rows = store.kb_gaps(since, until, limit=limit)
    cut = threshold_for(embedder) if threshold is None else threshold
    clusters = cluster_gaps(rows, embedder, threshold=cut)
    return {"since": since, "until": until, "requests": store.request_count(since, until), "gaps": len(rows),
            "embedder": embedder.name, "threshold": cut, "clusters": [c.to_dict() for c in clusters]}
