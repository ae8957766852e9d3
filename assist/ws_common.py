"""Helpers shared by the websocket endpoints (``assist/ws.py``, ``assist/ws_twilio.py``): coded frame errors,
clean closing, JSON parsing, readiness, joining a call, and ending it even when the socket's task is cancelled."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.types import Message
from starlette.websockets import WebSocketState

from asr.audio import AudioDecoder, AudioFormatError
from asr.leg import LegBacklogFull
from assist import metrics
from assist.auth import Principal
from assist.calls import CallError, CallManager
from assist.events import ErrorEvent
from assist.jsonsafe import safe_json_loads
from assist.session import CallOptions, CallSession, EndReason

log = logging.getLogger(__name__)

CALL_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
POLICY = 1008
TRY_LATER = 1013
# fatal errors that say "the server is busy" rather than "this client broke a rule"
TRY_LATER_CODES = frozenset({"too_many_calls", "too_many_calls_for_key", "not_ready", "audio_backlog"})


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


async def join_call(manager: CallManager, call_id: str, options: CallOptions,
                    principal: Principal | None = None) -> CallSession:
    """Join as ``principal`` (the socket's key): ``forbidden`` when the call belongs to another agent."""
    try:
        return await manager.join(call_id, options, principal)
    except CallError as exc:
        raise FrameError(exc.code, exc.message, fatal=True) from exc


def close_code(error_code: str) -> int:
    """1013 (try again later) for capacity errors, 1008 (policy) for everything else."""
    return TRY_LATER if error_code in TRY_LATER_CODES else POLICY


async def receive_within(ws: WebSocket, timeout_s: float) -> Message | None:
    """The next message, or ``None`` when none came within ``timeout_s`` (cancelling a receive loses nothing)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await ws.receive()
    except TimeoutError:
        return None


def feed_legs(session: CallSession, legs: list, chunks: list, *, last: bool = False) -> None:
    """Queue each channel's samples on its leg; a leg too far behind refuses them (fatal ``audio_backlog``).

    ``last``: the decoder's remainder as the socket ends, dropped rather than refused (the call must still end).
    """
    try:
        for leg, chunk in zip(legs, chunks, strict=False):
            session.feed(leg, chunk)
    except LegBacklogFull as exc:
        if not last:
            raise FrameError(exc.code, exc.message, fatal=True) from exc


def call_age_s(session: CallSession) -> float:
    """How long the call has been live: a second leg's or a reconnecting socket's guard counts from the call's start."""
    return time.time() - session.started


async def until_disconnect(ws: WebSocket) -> None:
    while (await ws.receive())["type"] != "websocket.disconnect":
        pass
