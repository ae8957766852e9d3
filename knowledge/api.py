"""REST for knowledge managers: articles (CRUD + history), bulk import upload, search, export.

Dependencies come from ``request.app.state.services`` (``kb: KnowledgeStore``, ``retrieval:
RetrievalService``). Writes go through the retrieval service so the index follows at once; model work
runs in a worker thread. Errors: the project's body (``common.errors``), ``{"error": {"code", "message",
"fields": [{code, message, line, field, file}]}}``, with a 4xx status.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from common.errors import FieldIssue, error_body
from knowledge.article import Article, KnowledgeError, parse_article
from knowledge.io import MAX_ROWS, apply_import, detect_format, export, parse_text

router = APIRouter(prefix="/api/kb", tags=["knowledge"])

_ARTICLE_SCHEMA = Article.model_json_schema()
_ARTICLE_BODY = {"requestBody": {"required": True,
                                 "content": {"application/json": {"schema": _ARTICLE_SCHEMA}}}}
_DEFAULT_MAX_UPLOAD = 20_000_000


class ArticleList(BaseModel):
    items: list[Article]
    total: int


class HitOut(BaseModel):
    article_id: str
    title: str
    snippet: str
    score: float
    language: str
    category: str | None
    signals: dict[str, float]
    confidence: Literal["high", "medium", "low"] = "low"
    """The calibrated band an agent reads (the widget shows it instead of ``score``)."""


class SearchOut(BaseModel):
    query: str
    hits: list[HitOut]


class HistoryOut(BaseModel):
    revision: int
    action: str
    changed_at: str
    kb_revision: int
    article: Article | None


class ImportOut(BaseModel):
    dry_run: bool
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    total: int


def _error(status: int, code: str, message: str, issues: Sequence[FieldIssue] = ()) -> JSONResponse:
    return JSONResponse(error_body(code, message, issues), status_code=status)


def _from_exc(exc: KnowledgeError, status: int = 422) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=status)


def _services(request: Request) -> Any | None:
    """None until the app has built the knowledge store and the retrieval service."""
    services = getattr(request.app.state, "services", None)
    if services is None or getattr(services, "kb", None) is None or getattr(services, "retrieval", None) is None:
        return None
    return services


def _unavailable() -> JSONResponse:
    return _error(503, "kb_unavailable", "the knowledge base is still loading; retry shortly")


@router.get("/articles", response_model=ArticleList, summary="List articles")
async def list_articles(request: Request, category: str | None = None, language: str | None = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                        offset: Annotated[int, Query(ge=0)] = 0) -> Any:
    services = _services(request)
    if services is None:
        return _unavailable()
    kb = services.kb
    matching = await asyncio.to_thread(kb.list, category=category, language=language)
    return ArticleList(items=matching[offset : offset + limit], total=len(matching))


@router.get("/articles/{article_id}", response_model=Article, summary="One article")
async def get_article(request: Request, article_id: str) -> Any:
    services = _services(request)
    if services is None:
        return _unavailable()
    kb = services.kb
    article = await asyncio.to_thread(kb.get, article_id)
    if article is None:
        return _error(404, "article_not_found", f"no article with id {article_id!r}")
    return article


@router.get("/articles/{article_id}/history", response_model=list[HistoryOut], summary="Revision history")
async def article_history(request: Request, article_id: str) -> Any:
    services = _services(request)
    if services is None:
        return _unavailable()
    kb = services.kb
    entries = await asyncio.to_thread(kb.history, article_id)
    if not entries:
        return _error(404, "article_not_found", f"no article with id {article_id!r}")
    return [HistoryOut(revision=e.revision, action=e.action, changed_at=e.changed_at.isoformat(),
                       kb_revision=e.kb_revision, article=e.article) for e in entries]


async def _write(request: Request, payload: dict[str, Any], *, article_id: str | None, create: bool) -> Any:
    services = _services(request)
    if services is None:
        return _unavailable()
    if article_id is not None:
        if "id" in payload and payload["id"] != article_id:
            return _error(422, "id_mismatch", "the body's id differs from the URL's",
                          [FieldIssue("id_mismatch", f"expected {article_id!r}", field="id")])
        payload = {**payload, "id": article_id}
    try:
        article = parse_article(payload)
    except KnowledgeError as exc:
        return _from_exc(exc)
    if create and await asyncio.to_thread(services.kb.get, article.id) is not None:
        return _error(409, "article_exists", f"an article with id {article.id!r} already exists",
                      [FieldIssue("article_exists", "already exists", field="id")])
    await asyncio.to_thread(services.retrieval.upsert, article)
    stored = await asyncio.to_thread(services.kb.get, article.id)
    return JSONResponse(stored.model_dump(mode="json"), status_code=201 if create else 200)


@router.post("/articles", response_model=Article, status_code=201, summary="Create an article",
             openapi_extra=_ARTICLE_BODY)
async def create_article(request: Request, payload: Annotated[dict[str, Any], Body()]) -> Any:
    return await _write(request, payload, article_id=None, create=True)


@router.put("/articles/{article_id}", response_model=Article, summary="Create or replace an article",
            openapi_extra=_ARTICLE_BODY)
async def put_article(request: Request, article_id: str, payload: Annotated[dict[str, Any], Body()]) -> Any:
    return await _write(request, payload, article_id=article_id, create=False)


@router.delete("/articles/{article_id}", status_code=204, response_model=None, summary="Delete an article")
async def delete_article(request: Request, article_id: str) -> Any:
    services = _services(request)
    if services is None:
        return _unavailable()
    if await asyncio.to_thread(services.kb.get, article_id) is None:
        return _error(404, "article_not_found", f"no article with id {article_id!r}")
    await asyncio.to_thread(services.retrieval.delete, article_id)
    return Response(status_code=204)


@router.post("/import", response_model=ImportOut, summary="Bulk import a CSV, JSONL or Markdown file")
async def import_file(request: Request, file: Annotated[UploadFile, File(description=".csv, .jsonl or .md")],
                      dry_run: bool = False) -> Any:
    """All or nothing: any invalid row rejects the whole file, with every problem listed."""
    services = _services(request)
    if services is None:
        return _unavailable()
    settings = getattr(services, "settings", None)
    limit = settings.server.max_upload_bytes if settings is not None else _DEFAULT_MAX_UPLOAD
    max_rows = settings.server.max_import_rows if settings is not None else MAX_ROWS
    data = await file.read(limit + 1)
    if len(data) > limit:
        return _error(413, "upload_too_large", f"the file exceeds {limit} bytes")
    try:  # parsing a large file takes seconds: in a worker thread, so live calls keep their event loop
        articles = await asyncio.to_thread(_parse_upload, data, file.filename or "", max_rows)
    except KnowledgeError as exc:
        return _from_exc(exc, 415 if exc.code == "unsupported_format" else 422)
    report = await asyncio.to_thread(apply_import, services.kb, articles, dry_run=dry_run)
    if not dry_run and (report.created or report.updated):
        await asyncio.to_thread(services.retrieval.refresh)
    return report.to_dict()


def _parse_upload(data: bytes, filename: str, max_rows: int) -> list[Article]:
    fmt = detect_format(filename)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KnowledgeError("invalid_encoding", "the file is not UTF-8 text") from exc
    return parse_text(text, fmt, source=filename or None, max_rows=max_rows)


@router.get("/search", response_model=SearchOut, summary="Search the knowledge base as the live service does")
async def search(request: Request, q: Annotated[str, Query(min_length=1, max_length=1000)],
                 k: Annotated[int, Query(ge=1, le=50)] = 5, language: Literal["ja", "en"] | None = None) -> Any:
    services = _services(request)
    if services is None:
        return _unavailable()
    hits = await asyncio.to_thread(services.retrieval.search, q, k=k, language=language)
    return SearchOut(query=q, hits=[HitOut(article_id=h.article_id, title=h.title, snippet=h.snippet, score=h.score,
                                           language=h.language, category=h.category, signals=dict(h.signals),
                                           confidence=getattr(h, "confidence", "low"))
                                    for h in hits])


@router.get("/export", summary="Export every article", response_class=Response,
            responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}})
async def export_articles(request: Request, format: Literal["jsonl", "csv"] = "jsonl") -> Any:
    services = _services(request)
    if services is None:
        return _unavailable()
    kb = services.kb
    out = io.StringIO()
    await asyncio.to_thread(lambda: export(kb.all(), out, format))  # serializing a big KB: off the loop too
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return Response(out.getvalue(), media_type=f"{media}; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="kb.{format}"'})
