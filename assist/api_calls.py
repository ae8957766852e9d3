"""REST for stored calls: list, read, the agent's edited notes, and feedback on suggested articles.

Errors are the project's body (``common.errors``), ``{"error": {"code", "message", "fields": [...]}}``,
with a 4xx status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from assist.auth import principal_of
from assist.store import CallRow, CallStore
from common.errors import CodedError, FieldIssue, error_body, validation_issues
from summarize.notes import CallNotes

router = APIRouter(prefix="/api/calls", tags=["calls"])


class ApiError(CodedError):
    """A REST error with its HTTP status."""

    def __init__(self, status: int, code: str, message: str, fields: Sequence[FieldIssue] = ()) -> None:
        super().__init__(code, message, fields)
        self.status = status


async def api_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 in the project's error shape: one issue per problem, ``field`` its dotted location."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(error_body("invalid_request", "the request failed validation",
                                   validation_issues(exc.errors())), status_code=422)


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    article_id: str = Field(min_length=1, max_length=200)
    action: Literal["shown", "clicked", "copied", "used", "dismissed"]


class FeedbackAccepted(BaseModel):
    id: int
    call_id: str
    article_id: str
    action: str


def _store(request: Request) -> CallStore:
    return request.app.state.call_store


async def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


async def _require_call(store: CallStore, call_id: str) -> CallRow:
    row = await _run(store.get_call, call_id)
    if row is None:
        raise ApiError(404, "unknown_call", f"no call {call_id!r}")
    return row


_NOT_TEXT = frozenset({"status", "language", "backend", "result", "kind", "turns", "flagged", "edited"})


def _mask_notes(value: Any, mask: Callable[[str], str]) -> Any:
    """Every free-text string of the notes (lines, entities, disposition, flags) through the masker: agents
    type what the customer said, so edited notes are personal data like the transcript."""
    if isinstance(value, dict):
        return {k: v if k in _NOT_TEXT else _mask_notes(v, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_notes(v, mask) for v in value]
    return mask(value) if isinstance(value, str) else value


@router.get("", summary="Stored calls, newest first")
async def list_calls(request: Request, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=100_000),
                     state: Literal["live", "ended", "interrupted"] | None = None) -> dict[str, Any]:
    owner = principal_of(request).owner_filter("calls:read")
    rows = await _run(_store(request).list_calls, limit=limit, offset=offset, state=state, owner=owner)
    return {"calls": [r.to_dict() for r in rows], "limit": limit, "offset": offset}


@router.get("/{call_id}", summary="One call: transcript, suggestions shown, feedback and notes")
async def get_call(request: Request, call_id: str) -> dict[str, Any]:
    detail = await _run(_store(request).call_detail, call_id)
    if detail is None:
        raise ApiError(404, "unknown_call", f"no call {call_id!r}")
    return detail


@router.patch("/{call_id}/summary", summary="Save the agent's edited notes")
async def patch_summary(request: Request, call_id: str, notes: CallNotes) -> dict[str, Any]:
    store = _store(request)
    row = await _require_call(store, call_id)
    stages = request.app.state.services.stages
    if stages is None:
        raise ApiError(503, "not_ready", "the personal-data masker is still loading; retry when /readyz answers 200")
    settings = request.app.state.settings
    language = next((x for x in (row.language, notes.language, settings.language) if x in ("ja", "en")), "ja")
    body = notes.model_copy(update={"edited": True}).model_dump(mode="json")
    masked = await _run(_mask_notes, body, lambda text: stages.mask(text, language))
    await _run(store.save_summary, call_id, CallNotes.model_validate(masked).model_dump(mode="json"), edited=True)
    return await _run(store.summary, call_id)


@router.post("/{call_id}/feedback", status_code=201, summary="Record what the agent did with a suggested article")
async def post_feedback(request: Request, call_id: str, feedback: Feedback) -> FeedbackAccepted:
    store = _store(request)
    await _require_call(store, call_id)
    row_id = await _run(store.add_feedback, call_id, feedback.article_id, feedback.action)
    return FeedbackAccepted(id=row_id, call_id=call_id, article_id=feedback.article_id, action=feedback.action)
