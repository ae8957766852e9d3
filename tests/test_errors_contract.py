"""One coded-error base, one list of websocket error codes, one error body shape on every boundary."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from support.live import connect, recv_json

from asr.audio import AudioDecoder, AudioFormatError
from asr.leg import LegBacklogFull
from assist import api_calls, auth, http_auth, origin_guard
from assist.api_calls import ApiError
from assist.auth import AuthError
from assist.calls import CallError
from assist.events import ERROR_CODES, ErrorCode, ErrorEvent, parse_event
from assist.ws_common import FrameError
from common.errors import CodedError, FieldIssue
from knowledge.article import KnowledgeError, parse_article
from models.errors import ModelError, UnknownModelError

ROOT = Path(__file__).resolve().parents[1]
ISSUE_KEYS = {"code", "message", "line", "field", "file"}


def test_every_coded_error_derives_from_the_one_base() -> None:
    raised = [AudioFormatError("bad_audio", "m"), ApiError(404, "unknown_call", "m"), AuthError(401, "unauthorized", "m"),
              FrameError("bad_json", "m"), CallError("not_ready", "m"), KnowledgeError("invalid_article", "m"),
              UnknownModelError("m"), LegBacklogFull("m")]
    for err in raised:
        assert isinstance(err, CodedError), type(err).__name__
        assert err.to_dict() == {"code": err.code, "message": "m", "fields": []} and str(err) == "m"
    assert UnknownModelError("m").code == "unknown_model" and isinstance(UnknownModelError("m"), ModelError)
    assert LegBacklogFull("m").code == "audio_backlog"
    with pytest.raises(AudioFormatError) as caught:
        AudioDecoder("opus", 16000)  # type: ignore[arg-type]
    assert caught.value.code == "unsupported_encoding", "raisers keep their (code, message) signature"


def test_one_list_of_websocket_codes_typed_on_the_event() -> None:
    assert list(get_args(ErrorCode)) == list(ERROR_CODES), "ErrorCode and its documentation list the same codes"
    for code in ("rate_limited", "call_too_long", "unauthorized", "invalid_key", "key_revoked"):
        assert ErrorEvent(call_id="c", code=code, message="m").code == code
    with pytest.raises(ValidationError):
        ErrorEvent(call_id="c", code="made_up", message="m")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        parse_event({"type": "error", "call_id": "c", "code": "made_up", "message": "m"})


def _literal_codes(path: str, pattern: str, after: str = "") -> set[str]:
    text = (ROOT / path).read_text(encoding="utf-8")
    return set(re.findall(pattern, text[text.index(after):]))


def test_every_code_the_sockets_send_is_in_the_list() -> None:
    """Codes written as literals where websocket errors are raised: frames, calls, socket limits, auth."""
    sent: set[str] = set()
    for module in ("assist/ws.py", "assist/ws_twilio.py", "assist/ws_common.py", "assist/audio_socket.py"):
        sent |= _literal_codes(module, r'FrameError\(\s*"(\w+)"')
    sent |= _literal_codes("assist/calls.py", r'CallError\(\s*"(\w+)"')
    sent |= _literal_codes("assist/security.py", r'"([a-z_]+)",\s*\(?f?"', after="class SocketGuard")  # its limits
    for module in ("assist/auth.py", "assist/twilio_auth.py"):  # refused sockets get an error event
        sent |= _literal_codes(module, r'AuthError\(\d+, "(\w+)"')
    assert {"rate_limited", "call_too_long", "audio_too_fast", "start_timeout", "idle_timeout"} <= sent
    assert {"unauthorized", "invalid_key", "forbidden", "not_ready", "bad_start"} <= sent
    assert sent - set(ERROR_CODES) == set()


def test_protocol_doc_lists_every_code() -> None:
    doc = (ROOT / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
    assert {code for code in ERROR_CODES if f"| `{code}` |" not in doc} == set()


def _body(response: Any) -> dict[str, Any]:
    return json.loads(bytes(response.body))


def _assert_shape(body: dict[str, Any], code: str) -> list[dict[str, Any]]:
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code and isinstance(body["error"]["message"], str)
    fields = body["error"]["fields"]
    assert isinstance(fields, list) and all(set(item) == ISSUE_KEYS for item in fields)
    return fields


async def test_rest_handlers_answer_one_body_shape() -> None:
    validation = RequestValidationError([
        {"type": "missing", "loc": ("body", "action"), "msg": "Field required", "input": {}},
        {"type": "less_than_equal", "loc": ("query", "offset"), "msg": "too large", "input": 10**9},
    ])
    fields = _assert_shape(_body(await api_calls.validation_error_handler(None, validation)), "invalid_request")
    assert [(f["field"], f["code"]) for f in fields] == [("action", "missing"), ("query.offset", "less_than_equal")]
    _assert_shape(_body(await api_calls.api_error_handler(None, ApiError(404, "unknown_call", "no call"))),
                  "unknown_call")
    refused = await auth.auth_error_handler(None, AuthError(401, "unauthorized", "no key"))
    assert _assert_shape(_body(refused), "unauthorized") == [] and refused.headers["www-authenticate"] == "Bearer"
    _assert_shape(_body(await http_auth.http_error_handler(None, StarletteHTTPException(405))), "method_not_allowed")
    _assert_shape(json.loads(origin_guard.error_body("bad_host", "m")), "bad_host")
    with pytest.raises(KnowledgeError) as caught:
        parse_article({"id": "x"}, line=3)
    fields = _assert_shape(caught.value.body(), "invalid_article")
    assert {f["field"] for f in fields} >= {"title"} and {f["line"] for f in fields} == {3}


async def test_live_rest_and_websocket_errors_share_the_shape(live) -> None:
    srv = live()
    async with httpx.AsyncClient(base_url=srv.http) as client:
        r = await client.post("/api/calls/nope/feedback", json={"article_id": "a", "action": "dance"})
    assert r.status_code == 422
    rest = _assert_shape(r.json(), "invalid_request")
    assert [f["field"] for f in rest] == ["action"]
    async with await connect(f"{srv.url}/ws/calls/c1/audio") as ws:
        await ws.send(json.dumps({"type": "start", "language": "fr", "sample_rate": 16000}))
        event = await recv_json(ws)
    assert event["code"] == "bad_start" and event["fatal"]
    assert [(f["field"], f["code"]) for f in event["fields"]] == [("language", "literal_error")]
    assert all(set(item) == ISSUE_KEYS for item in event["fields"])
    assert parse_event(event).fields == [FieldIssue(**event["fields"][0])]
