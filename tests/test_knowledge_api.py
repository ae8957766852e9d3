"""/api/kb on a tiny app whose ``state.services`` carries ``kb`` and ``retrieval``."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from support.retrieval_fakes import HashEmbedder

from config import RetrievalSettings
from knowledge.api import router
from knowledge.io import apply_import, parse_text
from knowledge.store import KnowledgeStore
from retrieval.service import RetrievalService

SEED = "\n".join(json.dumps(r, ensure_ascii=False) for r in [
    {"id": "lost-card", "title": "カードを紛失した場合", "answer": "紛失受付デスク（0120-110-365）へご連絡ください。",
     "tags": ["紛失"]},
    {"id": "etc-card", "title": "ETCカードの追加発行", "answer": "ミライネットからお申し込みください。"},
])


@pytest.fixture()
def client(tmp_path: Path) -> TestClient:
    store = KnowledgeStore(tmp_path / "kb.db")
    apply_import(store, parse_text(SEED, "jsonl"))
    retrieval = RetrievalService(RetrievalSettings(bm25_weight=0.3), HashEmbedder(), store)
    retrieval.load()
    app = FastAPI()
    app.state.services = SimpleNamespace(kb=store, retrieval=retrieval)
    app.include_router(router)
    return TestClient(app)


def test_crud_and_index_follow(client: TestClient) -> None:
    assert client.get("/api/kb/articles").json()["total"] == 2
    body = {"title": "ドローン保険", "question": "ドローンが壊れた", "answer": "ドローン保険の補償です。", "tags": "保険|ドローン"}
    created = client.post("/api/kb/articles", json={"id": "drone", **body})
    assert created.status_code == 201 and created.json()["revision"] == 1
    assert created.json()["tags"] == ["保険", "ドローン"]
    assert client.post("/api/kb/articles", json={"id": "drone", **body}).json()["error"]["code"] == "article_exists"
    hits = client.get("/api/kb/search", params={"q": "ドローン保険", "k": 1}).json()["hits"]
    assert hits[0]["article_id"] == "drone"
    assert hits[0]["confidence"] in ("high", "medium", "low")  # the band the widget shows, never the raw score
    updated = client.put("/api/kb/articles/drone", json={**body, "answer": "改定後の補償です。"})
    assert updated.status_code == 200 and updated.json()["revision"] == 2
    history = client.get("/api/kb/articles/drone/history").json()
    assert [h["revision"] for h in history] == [1, 2]
    assert client.delete("/api/kb/articles/drone").status_code == 204
    missing = client.get("/api/kb/articles/drone")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "article_not_found"
    assert client.delete("/api/kb/articles/drone").status_code == 404


def test_field_level_errors(client: TestClient) -> None:
    r = client.post("/api/kb/articles", json={"id": "bad id", "title": "", "answer": "x", "language": "fr"})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_article"
    assert {f["field"] for f in error["fields"]} == {"id", "title", "language"}
    r = client.put("/api/kb/articles/a", json={"id": "b", "title": "T", "answer": "A"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "id_mismatch"


def test_import_upload_all_or_nothing(client: TestClient) -> None:
    csv = "id,title,answer,tags\nnew-1,新しい記事,本文です。,a|b\nnew-2,,本文,\n"
    r = client.post("/api/kb/import", files={"file": ("kb.csv", csv.encode(), "text/csv")})
    assert r.status_code == 422
    fields = r.json()["error"]["fields"]
    assert fields == [{"code": "string_too_short", "message": fields[0]["message"], "line": 3, "field": "title",
                       "file": None}]
    assert client.get("/api/kb/articles/new-1").status_code == 404
    good = csv.replace("new-2,,", "new-2,二つ目,")
    dry = client.post("/api/kb/import", params={"dry_run": True}, files={"file": ("kb.csv", good.encode())})
    assert dry.json()["created"] == ["new-1", "new-2"] and client.get("/api/kb/articles/new-1").status_code == 404
    done = client.post("/api/kb/import", files={"file": ("kb.csv", good.encode())})
    assert done.status_code == 200 and done.json()["total"] == 2
    assert client.get("/api/kb/search", params={"q": "二つ目"}).json()["hits"][0]["article_id"] == "new-2"
    wrong = client.post("/api/kb/import", files={"file": ("kb.xlsx", b"PK")})
    assert wrong.status_code == 415 and wrong.json()["error"]["code"] == "unsupported_format"


def test_export_and_openapi(client: TestClient) -> None:
    r = client.get("/api/kb/export", params={"format": "csv"})
    assert r.status_code == 200 and r.text.splitlines()[0].startswith("id,title,question,answer")
    assert len(parse_text(client.get("/api/kb/export").text, "jsonl")) == 2
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/kb/articles", "/api/kb/articles/{article_id}", "/api/kb/import", "/api/kb/search",
            "/api/kb/export"} <= set(paths)
    assert "requestBody" in paths["/api/kb/articles"]["post"]


def test_unavailable_until_services_exist(tmp_path: Path) -> None:
    app = FastAPI()
    app.include_router(router)
    r = TestClient(app).get("/api/kb/articles")
    assert r.status_code == 503 and r.json()["error"]["code"] == "kb_unavailable"
