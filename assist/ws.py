"""Websocket endpoints: call audio in, call events out (with resume), the supervisor feed, Twilio.

Every inbound frame is validated; problems are ``error`` events with a code. Fatal ones close the socket
(1008 policy, 1013 try again later) and the call ends as if ``stop`` had been sent, so audio already
received is never lost.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from asr.audio import AudioDecoder, AudioFormatError
from assist import auth, metrics, security
from assist.calls import CallError, CallManager
from assist.events import ErrorEvent, StartMessage, StopMessage
from assist.hub import CLOSED, LAGGING, CallHub, Envelope, stored_backlog
from assist.session import CallOptions, CallSession, EndReason
from assist.twilio import TRACK_LEGS, TWILIO_ADAPTER, TwilioMedia, TwilioStart, TwilioStop

log = logging.getLogger(__name__)
router = APIRouter()

CALL_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
POLICY = 1008
TRY_LATER = 1013


class FrameError(Exception):
    def __init__(self, code: str, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fatal = fatal


def _manager(ws: WebSocket) -> CallManager:
    return ws.app.state.calls


async def _send_error(ws: WebSocket, call_id: str, err: FrameError) -> None:
    metrics.FRAME_ERRORS.labels(err.code).inc()
    if ws.client_state != WebSocketState.CONNECTED:
        return
    try:
        await ws.send_text(ErrorEvent(call_id=call_id, code=err.code, message=err.message,
                                      fatal=err.fatal).model_dump_json())
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass


async def _close(ws: WebSocket, code: int = 1000, reason: str = "") -> None:
    if ws.client_state == WebSocketState.CONNECTED:
        try:
            await ws.close(code, reason[:120])
        except (RuntimeError, WebSocketDisconnect, OSError):
            pass


def _parse_json(text: str, limit: int) -> dict[str, Any]:
    if len(text.encode("utf-8")) > limit:
        raise FrameError("frame_too_large", f"JSON messages are limited to {limit} bytes", fatal=True)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FrameError("bad_json", f"not JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(data, dict):
        raise FrameError("bad_json", "a message must be a JSON object")
    return data


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "message"
    return f"{where}: {first.get('msg', 'invalid')}"


async def _ensure_ready(ws: WebSocket, call_id: str) -> bool:
    services = ws.app.state.services
    if not services.readiness()["ready"]:
        await _send_error(ws, call_id, FrameError("not_ready", "models are still loading; retry shortly", fatal=True))
        await _close(ws, TRY_LATER, "not_ready")
        return False
    manager = _manager(ws)
    if manager.pipeline is None:
        manager.pipeline = services.pipeline
    return True


def _end_in_background(manager: CallManager, session: CallSession, legs: list, reason: EndReason) -> asyncio.Task:
    """Detaching flushes ASR and may write notes: it must finish even if this socket's task is cancelled."""
    return manager.loop.create_task(session.detach(legs, reason))


# ---------------------------------------------------------------- audio in


@router.websocket("/ws/calls/{call_id}/audio")
async def call_audio(ws: WebSocket, call_id: str) -> None:
    await auth.accept(ws)
    settings = ws.app.state.settings.server
    if not CALL_ID.match(call_id):
        await _send_error(ws, call_id[:128], FrameError("bad_start", "call ids are 1-128 of A-Z a-z 0-9 . _ : -",
                                                        fatal=True))
        await _close(ws, POLICY, "bad_call_id")
        return
    if not await _ensure_ready(ws, call_id):
        return
    manager = _manager(ws)
    session: CallSession | None = None
    decoder: AudioDecoder | None = None
    legs: list = []
    reason: EndReason = "disconnect"
    guard = security.SocketGuard(ws.app.state.settings.security)
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            try:
                if (limit := guard.check()) is not None:
                    raise FrameError(*limit, fatal=True)
                if msg.get("text") is not None:
                    data = _parse_json(msg["text"], settings.max_json_bytes)
                    kind = data.get("type")
                    if kind == "auth":  # already authenticated by header or subprotocol, or open mode
                        continue
                    if kind not in ("start", "stop"):
                        raise FrameError("unknown_type", f"unknown message type {kind!r}; expected start or stop")
                    if kind == "stop":
                        try:
                            StopMessage.model_validate(data)
                        except ValidationError as exc:
                            raise FrameError("bad_message", _validation_message(exc)) from exc
                        if session is None:
                            raise FrameError("not_started", "stop before start", fatal=True)
                        reason = "stop"
                        break
                    if session is not None:
                        raise FrameError("already_started", "this socket has already started its stream")
                    start = _parse_start(data, call_id)
                    decoder = _decoder(start.encoding, start.sample_rate, start.channels)
                    legs = start.channel_legs
                    session = await _join(manager, call_id, _options(start, ws.app.state.settings.language,
                                                                     auth.principal_of(ws).key_id))
                    guard.start()
                elif msg.get("bytes") is not None:
                    if session is None or decoder is None:
                        raise FrameError("not_started", "audio before start", fatal=True)
                    frame = msg["bytes"]
                    if len(frame) > settings.max_frame_bytes:
                        raise FrameError("frame_too_large",
                                         f"audio frames are limited to {settings.max_frame_bytes} bytes", fatal=True)
                    try:
                        chunks = decoder.feed(frame)
                    except AudioFormatError as exc:
                        raise FrameError("frame_too_large" if exc.code == "frame_too_large" else "bad_audio",
                                         exc.message, fatal=exc.code == "frame_too_large") from exc
                    guard.add_audio(len(chunks[0]) if chunks else 0)
                    for leg, chunk in zip(legs, chunks, strict=False):
                        session.feed(leg, chunk)
            except FrameError as err:
                await _send_error(ws, call_id, err)
                if err.fatal:
                    reason = "error"
                    await _close(ws, TRY_LATER if err.code in ("too_many_calls", "not_ready") else POLICY, err.code)
                    break
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("audio socket of call %s failed", call_id)
        reason = "error"
        await _send_error(ws, call_id, FrameError("internal", "unexpected server error; the call ends", fatal=True))
    finally:
        if session is not None:
            if decoder is not None:
                for leg, chunk in zip(legs, decoder.flush(), strict=False):
                    session.feed(leg, chunk)
            await asyncio.shield(_end_in_background(manager, session, legs, reason))
        await _close(ws)


def _parse_start(data: dict[str, Any], call_id: str) -> StartMessage:
    try:
        start = StartMessage.model_validate(data)
    except ValidationError as exc:
        codes = {(e.get("loc") or ("",))[0] for e in exc.errors()}
        code = "unsupported_encoding" if codes & {"encoding", "sample_rate", "channels"} else "bad_start"
        raise FrameError(code, _validation_message(exc), fatal=True) from exc
    if start.call_id is not None and start.call_id != call_id:
        raise FrameError("call_id_mismatch", f"start.call_id {start.call_id!r} differs from the URL's {call_id!r}",
                         fatal=True)
    return start


def _decoder(encoding: str, sample_rate: int, channels: int) -> AudioDecoder:
    try:
        return AudioDecoder(encoding, sample_rate, channels, max_frame_ms=5000)  # type: ignore[arg-type]
    except AudioFormatError as exc:
        raise FrameError("unsupported_encoding", exc.message, fatal=True) from exc


def _owned(metadata: dict[str, str], owner: str | None) -> dict[str, str]:
    """The call's ``owner`` is the streaming key's id, never what the client claims."""
    metadata = {k: v for k, v in metadata.items() if k != "owner"}
    return {**metadata, "owner": owner} if owner else metadata


def _options(start: StartMessage, default_language: str, owner: str | None = None) -> CallOptions:
    return CallOptions(language=start.language or default_language, legs=tuple(start.channel_legs),
                       interim_results=start.interim_results, metadata=_owned(dict(start.metadata), owner))


async def _join(manager: CallManager, call_id: str, options: CallOptions) -> CallSession:
    try:
        return await manager.join(call_id, options)
    except CallError as exc:
        raise FrameError(exc.code, exc.message, fatal=True) from exc


# ---------------------------------------------------------------- events out


async def _pump(ws: WebSocket, sub_queue: asyncio.Queue[Envelope], last_seq: int | None, call_id: str) -> None:
    """Send queued envelopes until the stream closes or the subscriber lags. ``last_seq`` skips what a
    resuming widget already has; ``None`` (the all-calls feed, where seqs of different calls mix) skips nothing."""
    while True:
        env = await sub_queue.get()
        if env is CLOSED:
            await _close(ws, 1000, "call ended")
            return
        if env is LAGGING:
            resume = "reconnect" if last_seq is None else f"reconnect with after_seq={last_seq}"
            await _send_error(ws, call_id, FrameError("lagging", f"subscriber fell behind; {resume}", fatal=True))
            await _close(ws, TRY_LATER, "lagging")
            return
        if last_seq is not None and env.seq and env.seq <= last_seq:
            continue
        await ws.send_text(env.json)
        if last_seq is not None and env.seq:
            last_seq = env.seq


async def _until_disconnect(ws: WebSocket) -> None:
    while (await ws.receive())["type"] != "websocket.disconnect":
        pass


async def _serve_queue(ws: WebSocket, queue: asyncio.Queue[Envelope], last_seq: int | None, call_id: str) -> None:
    pump = asyncio.ensure_future(_pump(ws, queue, last_seq, call_id))
    watch = asyncio.ensure_future(_until_disconnect(ws))
    try:
        await asyncio.wait([pump, watch], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pump, watch):
            task.cancel()
        await asyncio.gather(pump, watch, return_exceptions=True)


@router.websocket("/ws/calls/{call_id}/events")
async def call_events(ws: WebSocket, call_id: str) -> None:
    await auth.accept(ws)
    raw_after = ws.query_params.get("after_seq", "0")
    if not raw_after.isdigit():
        await _send_error(ws, call_id, FrameError("bad_after_seq", "after_seq must be a non-negative integer",
                                                  fatal=True))
        await _close(ws, POLICY, "bad_after_seq")
        return
    after_seq = int(raw_after)
    manager = _manager(ws)
    hub = manager.hub(call_id)
    if hub is None and ws.query_params.get("wait") in ("1", "true"):
        hub = await _wait_for_call(ws, manager, call_id)
    if hub is None:
        await _replay_stored(ws, manager, call_id, after_seq)
        return
    sub, backlog = hub.subscribe(after_seq)
    try:
        if backlog is None:
            backlog = await manager.loop.run_in_executor(None, stored_backlog, manager.store, call_id, after_seq)
        last = after_seq
        for env in backlog:
            if env.seq > last:
                await ws.send_text(env.json)
                last = env.seq
        await _serve_queue(ws, sub.queue, last, call_id)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        hub.unsubscribe(sub)
        await _close(ws)


async def _wait_for_call(ws: WebSocket, manager: CallManager, call_id: str) -> CallHub | None:
    """Wait for the call to start unless it is in the store already; ``None`` if the client left."""
    row = await manager.loop.run_in_executor(None, manager.store.get_call, call_id)
    if row is not None and row.state != "live":
        return None
    waiting = asyncio.ensure_future(manager.wait_for_call(call_id))
    watch = asyncio.ensure_future(_until_disconnect(ws))
    await asyncio.wait([waiting, watch], return_when=asyncio.FIRST_COMPLETED)
    watch.cancel()
    if not waiting.done():
        waiting.cancel()
        return None
    return waiting.result()


async def _replay_stored(ws: WebSocket, manager: CallManager, call_id: str, after_seq: int) -> None:
    """A call that is not in memory: replay it from the store, or say it is unknown."""
    loop = manager.loop
    row = await loop.run_in_executor(None, manager.store.get_call, call_id)
    if row is None:
        await _send_error(ws, call_id, FrameError("unknown_call", f"no call {call_id!r}", fatal=True))
        await _close(ws, POLICY, "unknown_call")
        return
    try:
        for env in await loop.run_in_executor(None, stored_backlog, manager.store, call_id, after_seq):
            await ws.send_text(env.json)
    except (WebSocketDisconnect, RuntimeError, OSError):
        return
    await _close(ws, 1000, f"call {row.state}")


@router.websocket("/ws/events")
async def supervisor_events(ws: WebSocket) -> None:
    await auth.accept(ws)
    manager = _manager(ws)
    sub = manager.supervisor.subscribe()
    try:
        for session in list(manager.sessions.values()):
            await ws.send_text(session.status().model_dump_json())
        await _serve_queue(ws, sub.queue, None, "*")
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        manager.supervisor.unsubscribe(sub)


# ---------------------------------------------------------------- Twilio Media Streams


@router.websocket("/twilio/media")
async def twilio_media(ws: WebSocket) -> None:
    await auth.accept(ws)
    settings = ws.app.state.settings
    call_id = "twilio"
    if not await _ensure_ready(ws, call_id):
        return
    manager = _manager(ws)
    session: CallSession | None = None
    decoders: dict[str, AudioDecoder] = {}
    legs: list = []
    reason: EndReason = "disconnect"
    guard = security.SocketGuard(settings.security)
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            try:
                if (limit := guard.check()) is not None:
                    raise FrameError(*limit, fatal=True)
                if msg.get("text") is None:
                    raise FrameError("bad_message", "Twilio sends JSON text messages only")
                data = _parse_json(msg["text"], settings.server.max_json_bytes)
                if data.get("event") not in ("connected", "start", "media", "stop", "mark", "dtmf"):
                    raise FrameError("unknown_type", f"unknown Twilio event {data.get('event')!r}")
                try:
                    message = TWILIO_ADAPTER.validate_python(data)
                except ValidationError as exc:
                    code = "bad_start" if data.get("event") == "start" else "bad_message"
                    raise FrameError(code, _validation_message(exc), fatal=code == "bad_start") from exc
                if isinstance(message, TwilioStart):
                    if session is not None:
                        raise FrameError("already_started", "this stream has already started")
                    info = message.start
                    call_id = info.custom_parameters.get("call_id") or info.call_sid
                    if not CALL_ID.match(call_id):
                        raise FrameError("bad_start", "call_id custom parameter is not a valid call id", fatal=True)
                    legs = [TRACK_LEGS[t] for t in dict.fromkeys(info.tracks)]
                    decoders = {t: _decoder("mulaw", 8000, 1) for t in dict.fromkeys(info.tracks)}
                    metadata = _owned({k: v for k, v in info.custom_parameters.items() if k != "call_id"},
                                      auth.principal_of(ws).key_id)
                    options = CallOptions(language=info.custom_parameters.get("language") or settings.language,
                                          legs=tuple(legs), source="twilio", metadata=metadata)
                    if options.language not in ("ja", "en", "auto"):
                        raise FrameError("bad_start", "language must be ja, en or auto", fatal=True)
                    session = await _join(manager, call_id, options)
                    guard.start()
                elif isinstance(message, TwilioMedia):
                    if session is None:
                        raise FrameError("not_started", "media before start", fatal=True)
                    decoder = decoders.get(message.media.track)
                    if decoder is None:
                        raise FrameError("bad_message", f"track {message.media.track} was not announced in start")
                    try:
                        payload = base64.b64decode(message.media.payload, validate=True)
                    except (binascii.Error, ValueError) as exc:
                        raise FrameError("bad_audio", "media.payload is not base64") from exc
                    if len(payload) > settings.server.max_frame_bytes:
                        raise FrameError("frame_too_large", "media payload too large", fatal=True)
                    samples = decoder.feed(payload)[0]
                    guard.add_audio(len(samples) / len(decoders))
                    session.feed(TRACK_LEGS[message.media.track], samples)  # type: ignore[index]
                elif isinstance(message, TwilioStop):
                    reason = "stop"
                    break
            except FrameError as err:
                await _send_error(ws, call_id, err)
                if err.fatal:
                    reason = "error"
                    await _close(ws, TRY_LATER if err.code == "too_many_calls" else POLICY, err.code)
                    break
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("audio socket of call %s failed", call_id)
        reason = "error"
        await _send_error(ws, call_id, FrameError("internal", "unexpected server error; the call ends", fatal=True))
    finally:
        if session is not None:
            for track, decoder in decoders.items():
                session.feed(TRACK_LEGS[track], decoder.flush()[0])  # type: ignore[index]
            await asyncio.shield(_end_in_background(manager, session, legs, reason))
        await _close(ws)
