"""Helpers shared by the websocket endpoints (``assist/ws.py``, ``assist/ws_twilio.py``, ``assist/audio_socket.py``):
coded frame errors, which close code a fatal error gets, clean closing and JSON parsing."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from assist import metrics
from assist.calls import CallManager
from assist.events import ErrorCode, ErrorEvent
from common.errors import CodedError, FieldIssue, validation_issues
from common.jsonsafe import safe_json_loads

log = logging.getLogger(__name__)

CALL_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
POLICY = 1008
TRY_LATER = 1013
# fatal errors that say "the server is busy" rather than "this client broke a rule"
TRY_LATER_CODES: frozenset[ErrorCode] = frozenset({"too_many_calls", "too_many_calls_for_key", "not_ready",
                                                   "audio_backlog"})


class FrameError(CodedError):
    """A problem with a frame or the connection, sent as an ``error`` event; ``fatal``: the socket closes next."""

    code: ErrorCode

    def __init__(self, code: ErrorCode, message: str, *, fatal: bool = False,
                 fields: Sequence[FieldIssue] = ()) -> None:
        super().__init__(code, message, fields)
        self.fatal = fatal


def manager_of(ws: WebSocket) -> CallManager:
    return ws.app.state.calls


async def send_error(ws: WebSocket, call_id: str, err: FrameError) -> None:
    metrics.FRAME_ERRORS.labels(err.code).inc()
    if ws.client_state != WebSocketState.CONNECTED:
        return
    try:
        await ws.send_text(ErrorEvent(call_id=call_id, code=err.code, message=err.message, fatal=err.fatal,
                                      fields=err.fields).model_dump_json())
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass


async def close_socket(ws: WebSocket, code: int = 1000, reason: str = "") -> None:
    if ws.client_state == WebSocketState.CONNECTED:
        try:
            await ws.close(code, reason[:120])
        except (RuntimeError, WebSocketDisconnect, OSError):
            pass


def parse_json(text: str, limit: int) -> dict[str, Any]:
    if len(text.encode("utf-8")) > limit:
        raise FrameError("frame_too_large", f"JSON messages are limited to {limit} bytes", fatal=True)
    try:
        data = safe_json_loads(text)
    except json.JSONDecodeError as exc:
        raise FrameError("bad_json", f"not JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(data, dict):
        raise FrameError("bad_json", "a message must be a JSON object")
    return data


def validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "message"
    return f"{where}: {first.get('msg', 'invalid')}"


def invalid(code: ErrorCode, exc: ValidationError, *, fatal: bool = False) -> FrameError:
    """A message that failed validation: the first problem in ``message``, every problem in ``fields``."""
    return FrameError(code, validation_message(exc), fatal=fatal,
                      fields=validation_issues(exc.errors(), skip=frozenset()))


def close_code(error_code: str) -> int:
    """1013 (try again later) for capacity errors, 1008 (policy) for everything else."""
    return TRY_LATER if error_code in TRY_LATER_CODES else POLICY


async def until_disconnect(ws: WebSocket) -> None:
    while (await ws.receive())["type"] != "websocket.disconnect":
        pass
