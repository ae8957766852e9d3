"""Websocket endpoints: call audio in, call events out (with resume) and the all-calls supervisor feed.

Every inbound frame is validated; problems are ``error`` events with a code. Fatal ones close the socket
(1008 policy, 1013 try again later) and the call ends as if ``stop`` had been sent, so audio already
received is never lost. The audio loop is ``assist/audio_socket.py``'s, shared with Twilio Media Streams
(``assist/ws_twilio.py``); this module adds the adapter of the project's own protocol.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.types import Message

from asr.audio import AudioDecoder
from assist import auth
from assist.audio_socket import Audio, Start, Step, Stop, decode, make_decoder, owned_metadata, serve_audio
from assist.bus import CallFeed
from assist.calls import CallManager
from assist.events import ErrorCode, Leg, StartMessage, StopMessage
from assist.hub import CLOSED, LAGGING, Envelope, stored_backlog
from assist.session import CallOptions
from assist.ws_common import (
    CALL_ID,
    POLICY,
    TRY_LATER,
    FrameError,
    close_socket,
    invalid,
    manager_of,
    parse_json,
    send_error,
    until_disconnect,
)
from config import Settings

log = logging.getLogger(__name__)
router = APIRouter()
AFTER_SEQ = re.compile(r"[0-9]{1,15}")  # ASCII only: str.isdigit() accepts "²", which int() refuses


# ---------------------------------------------------------------- audio in


@router.websocket("/ws/calls/{call_id}/audio")
async def call_audio(ws: WebSocket, call_id: str) -> None:
    await auth.accept(ws)
    if not CALL_ID.match(call_id):
        await send_error(ws, call_id[:128], FrameError("bad_start", "call ids are 1-128 of A-Z a-z 0-9 . _ : -",
                                                        fatal=True))
        await close_socket(ws, POLICY, "bad_call_id")
        return
    await serve_audio(ws, PcmAdapter(call_id, ws.app.state.settings, auth.principal_of(ws).key_id))


class PcmAdapter:
    """The project's own audio protocol: JSON ``start`` / ``stop`` around binary PCM16 or μ-law frames, whose
    channels are interleaved legs."""

    def __init__(self, call_id: str, settings: Settings, owner: str | None) -> None:
        self.call_id = call_id
        self._server = settings.server
        self._language = settings.language
        self._owner = owner
        self._decoder: AudioDecoder | None = None
        self._legs: list[Leg] = []

    def on_message(self, msg: Message) -> Step:
        if msg.get("text") is not None:
            return self._control(parse_json(msg["text"], self._server.max_json_bytes))
        if msg.get("bytes") is None:
            return None
        if self._decoder is None:
            raise FrameError("not_started", "audio before start", fatal=True)
        return Audio(self._legs, decode(self._decoder, msg["bytes"], self._server.max_frame_bytes))

    def remainders(self) -> list[Audio]:
        return [Audio(self._legs, self._decoder.flush())] if self._decoder is not None else []

    def _control(self, data: dict[str, Any]) -> Step:
        kind = data.get("type")
        if kind == "auth":  # already authenticated by header or subprotocol, or open mode
            return None
        if kind not in ("start", "stop"):
            raise FrameError("unknown_type", f"unknown message type {kind!r}; expected start or stop")
        if kind == "stop":
            try:
                StopMessage.model_validate(data)
            except ValidationError as exc:
                raise invalid("bad_message", exc) from exc
            if self._decoder is None:
                raise FrameError("not_started", "stop before start", fatal=True)
            return Stop()
        if self._decoder is not None:
            raise FrameError("already_started", "this socket has already started its stream")
        start = _parse_start(data, self.call_id)
        self._decoder = make_decoder(start.encoding, start.sample_rate, start.channels)
        self._legs = start.channel_legs
        options = CallOptions(language=start.language or self._language, legs=tuple(self._legs),
                              interim_results=start.interim_results,
                              metadata=owned_metadata(dict(start.metadata), self._owner))
        return Start(self.call_id, options)


def _parse_start(data: dict[str, Any], call_id: str) -> StartMessage:
    try:
        start = StartMessage.model_validate(data)
    except ValidationError as exc:
        codes = {(e.get("loc") or ("",))[0] for e in exc.errors()}
        code: ErrorCode = "unsupported_encoding" if codes & {"encoding", "sample_rate", "channels"} else "bad_start"
        raise invalid(code, exc, fatal=True) from exc
    if start.call_id is not None and start.call_id != call_id:
        raise FrameError("call_id_mismatch", f"start.call_id {start.call_id!r} differs from the URL's {call_id!r}",
                         fatal=True)
    return start


# ---------------------------------------------------------------- events out


async def _pump(ws: WebSocket, sub_queue: asyncio.Queue[Envelope], last_seq: int | None, call_id: str) -> None:
    """Send queued envelopes until the stream closes or the subscriber lags. ``last_seq`` skips what a
    resuming widget already has; ``None`` (the all-calls feed, where seqs of different calls mix) skips nothing."""
    while True:
        env = await sub_queue.get()
        if env is CLOSED:
            await close_socket(ws, 1000, "call ended")
            return
        if env is LAGGING:
            resume = "reconnect" if last_seq is None else f"reconnect with after_seq={last_seq}"
            await send_error(ws, call_id, FrameError("lagging", f"subscriber fell behind; {resume}", fatal=True))
            await close_socket(ws, TRY_LATER, "lagging")
            return
        if last_seq is not None and env.seq and env.seq <= last_seq:
            continue
        await ws.send_text(env.json)
        if last_seq is not None and env.seq:
            last_seq = env.seq


async def _serve_queue(ws: WebSocket, queue: asyncio.Queue[Envelope], last_seq: int | None, call_id: str) -> None:
    pump = asyncio.ensure_future(_pump(ws, queue, last_seq, call_id))
    watch = asyncio.ensure_future(until_disconnect(ws))
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
    if not AFTER_SEQ.fullmatch(raw_after):
        await send_error(ws, call_id, FrameError("bad_after_seq", "after_seq must be a non-negative integer "
                                                  "of at most 15 digits", fatal=True))
        await close_socket(ws, POLICY, "bad_after_seq")
        return
    after_seq = int(raw_after)
    manager = manager_of(ws)
    hub: CallFeed | None = manager.hub(call_id) or await manager.remote_hub(call_id)  # here, or on another worker
    if hub is None and ws.query_params.get("wait") in ("1", "true"):
        hub = await _wait_for_call(ws, manager, call_id)
    if hub is None:
        await _replay_stored(ws, manager, call_id, after_seq)
        return
    # authorize() checked the owner when the socket opened; the call may have been opened since (a waiting
    # subscription, or a race with the first start), so check again now that it exists
    if not await auth.may_use_call(ws.app, auth.principal_of(ws), "calls:subscribe", call_id):
        await _refuse(ws, call_id)
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
        await close_socket(ws)


async def _wait_for_call(ws: WebSocket, manager: CallManager, call_id: str) -> CallFeed | None:
    """Wait for the call to start unless it is in the store already; ``None`` if the client left."""
    row = await manager.loop.run_in_executor(None, manager.store.get_call, call_id)
    if row is not None and row.state != "live":
        return None
    waiting = asyncio.ensure_future(manager.wait_for_call(call_id))
    watch = asyncio.ensure_future(until_disconnect(ws))
    try:
        await asyncio.wait([waiting, watch], return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when this handler is cancelled: a waiter left behind would leak in CallManager
        watch.cancel()
        abandoned = not waiting.done()
        waiting.cancel()
        await asyncio.gather(waiting, watch, return_exceptions=True)
    return None if abandoned else waiting.result()


async def _refuse(ws: WebSocket, call_id: str) -> None:
    await send_error(ws, call_id, FrameError("forbidden", "this call belongs to another agent", fatal=True))
    await close_socket(ws, POLICY, "forbidden")


async def _replay_stored(ws: WebSocket, manager: CallManager, call_id: str, after_seq: int) -> None:
    """A call that is not in memory: replay it from the store, or say it is unknown."""
    loop = manager.loop
    row = await loop.run_in_executor(None, manager.store.get_call, call_id)
    if row is None:
        await send_error(ws, call_id, FrameError("unknown_call", f"no call {call_id!r}", fatal=True))
        await close_socket(ws, POLICY, "unknown_call")
        return
    if not auth.principal_of(ws).may("calls:subscribe", row.metadata.get("owner")):
        await _refuse(ws, call_id)
        return
    try:
        for env in await loop.run_in_executor(None, stored_backlog, manager.store, call_id, after_seq):
            await ws.send_text(env.json)
    except (WebSocketDisconnect, RuntimeError, OSError):
        return
    await close_socket(ws, 1000, f"call {row.state}")


@router.websocket("/ws/events")
async def supervisor_events(ws: WebSocket) -> None:
    await auth.accept(ws)
    manager = manager_of(ws)
    sub = manager.supervisor.subscribe()
    try:
        for session in list(manager.sessions.values()):
            await ws.send_text(session.status().model_dump_json())
        await _serve_queue(ws, sub.queue, None, "*")
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        manager.supervisor.unsubscribe(sub)
