"""Hostile HTTP clients and hostile KB files: authentication before any body is read, the upload limit on
the import route only, the API docs behind a key, recursion-safe JSON on every boundary, YAML aliases,
symbolic links and special files refused by the KB import, and CSV export safe to open in a spreadsheet."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from fastapi.testclient import TestClient
from support.auth import KeyedServer, keyed_settings, start_keyed
from support.live import fake_stages
from support.retrieval_fakes import KbRetrieval

from assist.app import create_app
from assist.auth import KeyStore
from assist.ws_common import FrameError, parse_json
from knowledge import api as kb_api
from knowledge.article import Article, KnowledgeError, parse_article
from knowledge.io import export, parse_text, read_path
from knowledge.store import KnowledgeStore

DEEP = "[" * 4096
ALIAS_BOMB = ("---\nid: bomb\ntitle: t\n"
              + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
              + "".join(f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))
              + "tags: *i\n---\nbody\n")


def _app(home: Path, **sections: Any) -> tuple[Any, dict[str, str]]:
    """The real app in keys mode with a KB, and one key per role used here."""
    from assist.services import Services

    settings = keyed_settings(home, **sections)
    store = KeyStore(settings.db_path)
    keys = {role: store.create(role)[1] for role in ("admin", "agent", "knowledge-manager")}  # type: ignore[arg-type]
    store.close()
    services = Services(settings, stages=fake_stages())
    services.kb = KnowledgeStore(home / "knowledge.db")
    services.retrieval = KbRetrieval(services.kb)
    return create_app(settings, services), keys


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app, keys = _app(tmp_path, server={"max_json_bytes": 8192, "max_upload_bytes": 100_000, "max_import_rows": 3})
    with TestClient(app) as client:
        yield client, keys


# ---------------------------------------------------------------- authentication before the body


def _scope(path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in
                        {"host": "127.0.0.1:8000", "transfer-encoding": "chunked",
                         "content-type": "multipart/form-data; boundary=x", **headers}.items()],
            "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000)}


async def _drive(app: Any, scope: dict[str, Any]) -> tuple[int, dict[bytes, bytes], dict[str, Any], int]:
    """Run one request whose chunked body never ends; return status, headers, body and how often the app
    asked for more of the body."""
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 65_536, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), 10)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), json.loads(body), reads


async def test_unauthenticated_body_is_never_read(tmp_path: Path) -> None:
    app, keys = _app(tmp_path, server={"max_upload_bytes": 1024})
    status, headers, body, reads = await _drive(app, _scope("/api/kb/import", {}))
    assert (status, reads) == (401, 0), "refused from the headers alone, without reading the body"
    assert body["error"]["code"] == "unauthorized" and body["error"]["fields"] == []
    assert headers[b"www-authenticate"] == b"Bearer" and headers[b"connection"] == b"close"

    status, _, body, reads = await _drive(app, _scope("/api/kb/import", _bearer("aa_dead_notarealkeyatall00")))
    assert (status, reads, body["error"]["code"]) == (401, 0, "invalid_key")
    status, _, body, reads = await _drive(app, _scope("/api/kb/import", _bearer(keys["agent"])))
    assert (status, reads, body["error"]["code"]) == (403, 0, "forbidden"), "agents may not write the KB"
    status, _, body, reads = await _drive(app, _scope("/api/calls/c1/feedback", {}))
    assert (status, reads) == (401, 0)

    status, _, body, reads = await _drive(app, _scope("/api/kb/import", _bearer(keys["knowledge-manager"])))
    assert status == 413 and body["error"]["code"] == "payload_too_large" and reads >= 2, \
        "an authorized upload is read, up to the upload limit"


def test_unauthenticated_chunked_upload_is_answered_at_once_by_the_real_server(tmp_path: Path) -> None:
    keyed = start_keyed(tmp_path)
    try:
        with socket.create_connection(("127.0.0.1", keyed.srv.port), timeout=5) as conn:
            conn.sendall(b"POST /api/kb/import HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                         b"Content-Type: multipart/form-data; boundary=x\r\n\r\n")
            reply = conn.recv(4096)  # no body sent at all: the answer must not wait for one
    finally:
        keyed.srv.__exit__(None, None, None)
    assert reply.startswith(b"HTTP/1.1 401"), reply[:200]
    assert b'"unauthorized"' in reply


def test_upload_limit_applies_to_the_import_route_only(keyed: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = keyed
    auth = _bearer(keys["admin"])
    rows = "id,title,answer\n" + "".join(f"a{i},Title {i},{'x' * 20_000}\n" for i in range(2))
    imported = client.post("/api/kb/import", files={"file": ("kb.csv", rows.encode(), "text/csv")}, headers=auth)
    assert imported.status_code == 200 and imported.json()["created"] == ["a0", "a1"], imported.text
    # the same 40 KB as a multipart body elsewhere, or as text: the JSON limit (8 KB)
    for method, path in (("POST", "/api/kb/articles"), ("PATCH", "/api/calls/c1/summary")):
        r = client.request(method, path, files={"file": ("kb.csv", rows.encode(), "text/csv")}, headers=auth)
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large", (path, r.text)
        r = client.request(method, path, content=rows.encode(), headers={**auth, "Content-Type": "text/plain"})
        assert r.status_code == 413, (path, r.text)
    too_big = client.post("/api/kb/import", files={"file": ("kb.csv", b"x" * 200_000, "text/csv")}, headers=auth)
    assert too_big.status_code == 413


def test_docs_need_a_key_in_keys_mode(keyed: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = keyed
    for path in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"):
        r = client.get(path)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", path
        assert client.get(path, headers=_bearer(keys["agent"])).status_code == 200, path
    assert "/api/kb/import" in client.get("/openapi.json", headers=_bearer(keys["agent"])).json()["paths"]
    assert client.get("/").status_code == 200, "the widget stays public"
    assert client.get("/healthz").status_code == 200


def test_docs_are_open_in_open_mode(tmp_path: Path) -> None:
    from assist.services import Services

    settings = keyed_settings(tmp_path, auth={"mode": "open"})
    with TestClient(create_app(settings, Services(settings, stages=fake_stages()))) as client:
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/docs").status_code == 200


# ---------------------------------------------------------------- recursion-safe JSON


def test_deep_json_is_bad_json_not_a_recursion_error() -> None:
    with pytest.raises(FrameError) as err:
        parse_json(DEEP, 65_536)
    assert err.value.code == "bad_json" and "too deep" in err.value.message
    with pytest.raises(KnowledgeError) as kb_err:
        parse_text(DEEP + "\n", "jsonl")
    assert kb_err.value.fields[0].code == "invalid_json" and kb_err.value.fields[0].line == 1


def test_deep_json_rest_body_gets_the_error_shape(keyed: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = keyed
    headers = {**_bearer(keys["admin"]), "Content-Type": "application/json"}
    for method, path in (("POST", "/api/kb/articles"), ("PATCH", "/api/calls/c1/summary"),
                         ("POST", "/api/calls/c1/feedback"), ("POST", "/api/keys")):
        r = client.request(method, path, content=DEEP.encode(), headers=headers)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert r.json()["error"]["code"] == "bad_json" and r.json()["error"]["fields"] == [], r.text
    missing = client.get("/api/nothing-here", headers=_bearer(keys["admin"]))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyedServer]:
    keyed = start_keyed(tmp_path_factory.mktemp("sechttp"))
    yield keyed
    keyed.srv.__exit__(None, None, None)


async def _first_reply(url: str, headers: dict[str, str], text: str) -> tuple[dict[str, Any], int | None]:
    async with websockets.connect(url, additional_headers=headers, open_timeout=10) as ws:
        await ws.send(text)
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        try:
            await asyncio.wait_for(ws.recv(), 0.5)
        except websockets.ConnectionClosed as exc:
            return reply, exc.rcvd.code if exc.rcvd else None
        except TimeoutError:
            pass
        return reply, None


@pytest.mark.parametrize("path", ["/ws/calls/deep-1/audio", "/twilio/media"])
async def test_deep_json_over_websocket_is_bad_json(live: KeyedServer, path: str) -> None:
    reply, _ = await _first_reply(f"{live.url}{path}", live.headers("agent"), DEEP)
    assert reply["type"] == "error" and reply["code"] == "bad_json", reply


async def test_deep_json_as_the_auth_message_is_bad_json(live: KeyedServer) -> None:
    reply, code = await _first_reply(f"{live.url}/ws/calls/deep-2/audio", {}, DEEP)
    assert reply["code"] == "bad_json" and reply["fatal"] is True and code == 1008, (reply, code)


# ---------------------------------------------------------------- KB import


def test_yaml_alias_bomb_is_refused_fast() -> None:
    assert len(ALIAS_BOMB.encode()) < 400
    started = time.perf_counter()
    with pytest.raises(KnowledgeError) as err:
        parse_text(ALIAS_BOMB, "markdown", source="bomb.md")
    assert time.perf_counter() - started < 0.5
    assert [i.code for i in err.value.fields] == ["yaml_alias"] and err.value.fields[0].file == "bomb.md"
    plain = parse_text("---\ntitle: T\ntags: [a, b]\n---\nbody\n", "markdown", source="ok.md")
    assert plain[0].tags == ["a", "b"], "front matter without aliases still imports"


def test_yaml_alias_bomb_upload_is_refused(keyed: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = keyed
    r = client.post("/api/kb/import", files={"file": ("bomb.md", ALIAS_BOMB.encode(), "text/markdown")},
                    headers=_bearer(keys["admin"]))
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["code"] == "yaml_alias", r.text


def test_import_parses_off_the_event_loop(keyed: tuple[TestClient, dict[str, str]],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    client, keys = keyed
    threads: list[bool] = []
    real = kb_api.parse_text

    def spy(*args: Any, **kwargs: Any) -> list[Article]:
        try:
            asyncio.get_running_loop()
            threads.append(False)
        except RuntimeError:
            threads.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(kb_api, "parse_text", spy)
    r = client.post("/api/kb/import", files={"file": ("kb.jsonl", b'{"id": "a", "title": "T", "answer": "A"}\n',
                                                      "application/x-ndjson")}, headers=_bearer(keys["admin"]))
    assert r.status_code == 200 and threads == [True], (r.text, threads)


def test_rows_and_list_lengths_are_capped(keyed: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = keyed
    rows = "id,title,answer\n" + "".join(f"r{i},T,A\n" for i in range(4))
    r = client.post("/api/kb/import", files={"file": ("kb.csv", rows.encode(), "text/csv")},
                    headers=_bearer(keys["admin"]))
    assert r.status_code == 422 and r.json()["error"]["code"] == "too_many_rows", r.text
    with pytest.raises(KnowledgeError) as err:
        parse_article({"id": "t", "title": "T", "answer": "A", "tags": "|".join(f"t{i}" for i in range(51))})
    assert err.value.fields[0].code == "too_long" and err.value.fields[0].field == "tags"
    with pytest.raises(KnowledgeError) as err:
        parse_article({"id": "t", "title": "T", "answer": "A", "questions": ["q" * 1001]})
    assert err.value.fields[0].code == "string_too_long"


def _read_in_thread(path: Path) -> BaseException | list[Article]:
    """``read_path`` with a deadline: a hang shows up as a failure, not a stuck test run."""
    out: list[BaseException | list[Article]] = []
    worker = threading.Thread(target=lambda: out.append(_catch(path)), daemon=True)
    worker.start()
    worker.join(5)
    assert out, "read_path hung"
    return out[0]


def _catch(path: Path) -> BaseException | list[Article]:
    try:
        return read_path(path)
    except KnowledgeError as exc:
        return exc


def test_folder_import_refuses_links_and_special_files(tmp_path: Path) -> None:
    (tmp_path / "ok.md").write_text("---\ntitle: OK\n---\nbody\n", encoding="utf-8")
    (tmp_path / "zero.md").symlink_to("/dev/zero")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.md").write_text("---\ntitle: S\n---\nsecret\n", encoding="utf-8")
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "ok.md").write_text("---\ntitle: OK\n---\nbody\n", encoding="utf-8")
    (tmp_path / "kb" / "zero.md").symlink_to("/dev/zero")
    (tmp_path / "kb" / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    os.mkfifo(tmp_path / "kb" / "pipe.md")
    result = _read_in_thread(tmp_path / "kb")
    assert isinstance(result, KnowledgeError) and result.code == "invalid_import"
    assert {(i.file, i.code) for i in result.fields} == {
        ("zero.md", "symlink_refused"), ("linked", "symlink_refused"), ("pipe.md", "not_a_file")}
    os.unlink(tmp_path / "kb" / "zero.md")
    os.unlink(tmp_path / "kb" / "linked")
    os.unlink(tmp_path / "kb" / "pipe.md")
    assert [a.id for a in _read_in_thread(tmp_path / "kb")] == ["ok"]  # type: ignore[union-attr]
    with pytest.raises(KnowledgeError) as err:
        read_path("/dev/zero", "jsonl")
    assert err.value.code == "not_a_file"


# ---------------------------------------------------------------- CSV export


def test_csv_export_neutralises_formulas(keyed: tuple[TestClient, dict[str, str]]) -> None:
    risky = parse_article({"id": "f1", "title": "=cmd()", "answer": "+SUM(A1)", "category": "@x",
                           "question": "-1+1|q", "tags": "=a|b", "language": "en"})
    out = io.StringIO()
    export([risky], out, "csv")
    row = out.getvalue().splitlines()[1]
    assert row.startswith("f1,'=cmd(),'-1+1|q,'+SUM(A1),'@x,'=a|b,en,"), row
    again = parse_text(out.getvalue(), "csv")[0]
    assert again.content_key() == risky.content_key(), "the escape is undone on import"

    client, keys = keyed
    auth = _bearer(keys["admin"])
    assert client.post("/api/kb/articles", json=risky.model_dump(mode="json"), headers=auth).status_code == 201
    csv_text = client.get("/api/kb/export", params={"format": "csv"}, headers=auth).text
    assert "'=cmd()" in csv_text and ",=cmd()" not in csv_text
