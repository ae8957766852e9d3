"""REST for QA leads and knowledge managers: the per-call QA metrics of a date range as CSV (``GET /api/qa``,
supervisors) and the knowledge base's gaps, clustered (``GET /api/kb/gaps``, knowledge managers).

Errors are the project's body with a 4xx status: ``bad_date`` / ``bad_range`` (422) for the range,
``not_ready`` (503) while the embedder loads, ``no_embedder`` (409) when dense retrieval is switched off.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from assist.api_calls import ApiError
from assist.insights_report import RangeError, date_range, gap_report, qa_csv
from assist.store import CallStore
from retrieval.base import Embedder

router = APIRouter(tags=["insights"])


def _range(since: str | None, until: str | None) -> tuple[float, float]:
    try:
        return date_range(since, until)
    except RangeError as exc:
        raise ApiError(422, exc.code, exc.message, exc.fields) from exc


def _embedder(request: Request) -> Embedder:
    services = request.app.state.services
    if services.stages is None:
        raise ApiError(503, "not_ready", "models are still loading; retry when /readyz answers 200")
    embedder = getattr(services.retrieval or services.stages.retrieval, "embedder", None)
    if embedder is None:
        raise ApiError(409, "no_embedder", "dense retrieval is off (retrieval.dense_weight = 0): there is no "
                       "embedder to group the requests with")
    return embedder


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y%m%d")


@router.get("/api/qa", summary="Per-call QA metrics of the calls started in a date range, as CSV",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def qa_export(request: Request, since: str | None = Query(None, max_length=40, description="Date "
                    "(2025-04-01), ISO date-time or Unix seconds; default: 30 days before `until`"),
                    until: str | None = Query(None, max_length=40, description="Exclusive; a date counts whole; "
                    "default: now")) -> Response:
    start, end = _range(since, until)
    store: CallStore = request.app.state.call_store
    body = await asyncio.to_thread(qa_csv, store, start, end)
    name = f"qa-{_day(start)}-{_day(end - 1)}.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/api/kb/gaps", summary="Customer requests the knowledge base failed, grouped by meaning, largest first")
async def kb_gaps(request: Request, since: str | None = Query(None, max_length=40),
                  until: str | None = Query(None, max_length=40),
                  limit: int = Query(2000, ge=1, le=20_000, description="Newest failed requests grouped"),
                  threshold: float | None = Query(None, gt=0.0, lt=1.0, description="Cosine to join a group; "
                                                  "default: the embedder's measured one")) -> dict[str, Any]:
    start, end = _range(since, until)
    embedder = _embedder(request)
    store: CallStore = request.app.state.call_store
    return await asyncio.to_thread(gap_report, store, embedder, start, end, threshold=threshold, limit=limit)
