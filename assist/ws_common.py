"""Helpers shared by the websocket endpoints (``assist/ws.py``, ``assist/ws_twilio.py``): coded frame errors,
clean closing, JSON parsing, readiness, joining a call, and ending it even when the socket's task is cancelled."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from asr.audio import AudioDecoder, AudioFormatError
from assist import metrics
from assist.calls import CallError, CallManager
from assist.events import ErrorEvent
from assist.session import CallOptions, CallSession, EndReason

log = logging.getLogger(__name__)

CALL_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
POLICY = 1008
TRY_LATER = 1013


class FrameError(Exception):
    def __init__(self, code: str, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fatal = fatal


def manager_of(ws: WebSocket) -> CallManager:
    return ws.app.state.calls


async def send_error(ws: WebSocket, call_id: str, err: FrameError) -> None:
    metrics.FRAME_ERRORS.labels(err.code).inc()
    if ws.client_state != WebSocketState.CONNECTED:
        return
    try:
        await ws.send_text(ErrorEvent(call_id=call_id, code=err.code, message=err.message,
                                      fatal=err.fatal).model_dump_json())
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
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FrameError("bad_json", f"not JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(data, dict):
        raise FrameError("bad_json", "a message must be a JSON object")
    return data


def validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "message"
    return f"{where}: {first.get('msg', 'invalid')}"


async def ensure_ready(ws: WebSocket, call_id: str) -> bool:
    services = ws.app.state.services
    if not services.readiness()["ready"]:
        await send_error(ws, call_id, FrameError("not_ready", "models are still loading; retry shortly", fatal=True))
        await close_socket(ws, TRY_LATER, "not_ready")
        return False
    manager = manager_of(ws)
    if manager.pipeline is None:
        manager.pipeline = services.pipeline
    return True


def end_in_background(manager: CallManager, session: CallSession, legs: list, reason: EndReason) -> asyncio.Task:
    """Detaching flushes ASR and may write notes: it must finish even if this socket's task is cancelled."""
    return manager.loop.create_task(session.detach(legs, reason))


def make_decoder(encoding: str, sample_rate: int, channels: int) -> AudioDecoder:
    try:
        return AudioDecoder(encoding, sample_rate, channels, max_frame_ms=5000)  # type: ignore[arg-type]
    except AudioFormatError as exc:
        raise FrameError("unsupported_encoding", exc.message, fatal=True) from exc


def owned_metadata(metadata: dict[str, str], owner: str | None) -> dict[str, str]:
    """The call's ``owner`` is the streaming key's id, never what the client claims."""
    metadata = {k: v for k, v in metadata.items() if k != "owner"}
    return {**metadata, "owner": owner} if owner else metadata


async def join_call(manager: CallManager, call_id: str, options: CallOptions) -> CallSession:
    try:
        return await manager.join(call_id, options)
    except CallError as exc:
        raise FrameError(exc.code, exc.message, fatal=True) from exc


async def until_disconnect(ws: WebSocket) -> None:
    while (await ws.receive())["type"] != "websocket.disconnect":
        pass
