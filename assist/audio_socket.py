"""One driver for every audio socket: ``/ws/calls/{id}/audio`` (PCM16/μ-law), ``/twilio/media`` and any
later telephony protocol (e.g. Genesys AudioHook).

The driver owns what every audio protocol shares and must not drift between them: readiness, the socket's
limits (``SocketGuard``), coded ``error`` events (fatal ones close 1008, capacity ones 1013, see
``close_code``), joining the call as the socket's key, backpressure from the store writer, and ending the call
however the socket ends (the decoders' remainders are fed, then the call is detached in a task that survives
this one's cancellation). An adapter only turns its protocol's messages into steps: ``Start``, ``Audio``,
``Stop`` or nothing; a new protocol is one adapter class and one route.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

import numpy as np
from fastapi import WebSocket, WebSocketDisconnect
from pydantic import TypeAdapter, ValidationError
from starlette.types import Message

from asr.audio import AudioDecoder, AudioFormatError, Encoding
from asr.leg import LegBacklogFull
from assist import auth
from assist.auth import Principal
from assist.calls import CallError, CallManager
from assist.events import Leg, StreamLanguage
from assist.security import SocketGuard
from assist.session import CallOptions, CallSession, EndReason
from assist.ws_common import (
    TRY_LATER,
    FrameError,
    close_code,
    close_socket,
    manager_of,
    send_error,
)
from common.errors import validation_issues

log = logging.getLogger(__name__)

MAX_FRAME_MS = 5000  # one frame may carry at most this much audio, whatever its byte size
_LANGUAGE: TypeAdapter[StreamLanguage] = TypeAdapter(StreamLanguage)


@dataclass(frozen=True, slots=True)
class Start:
    """Open or join ``call_id`` with ``options``; the adapter has set up its decoders."""

    call_id: str
    options: CallOptions


@dataclass(frozen=True, slots=True)
class Audio:
    """Decoded 16 kHz samples of one moment, one array per leg in ``legs`` (a frame's channels)."""

    legs: Sequence[Leg]
    chunks: Sequence[np.ndarray]


@dataclass(frozen=True, slots=True)
class Stop:
    """The client ended its stream: the call ends as when the socket closes, with reason ``stop``."""


Step = Start | Audio | Stop | None


class AudioAdapter(Protocol):
    """One audio protocol. Raises ``FrameError`` for a bad message; the driver answers and closes if fatal."""

    @property
    def call_id(self) -> str:
        """The call id this socket's errors name (the protocol's placeholder until its start names one)."""
        ...

    def on_message(self, msg: Message) -> Step:
        """One websocket message (``text`` or ``bytes``) as a step; ``None``: nothing to do (keep-alives…)."""
        ...

    def remainders(self) -> Iterable[Audio]:
        """What the decoders still hold when the socket ends (flushed once)."""
        ...


async def serve_audio(ws: WebSocket, adapter: AudioAdapter, *, pending: Sequence[Message] = ()) -> None:
    """Run one accepted, authenticated audio socket until it ends. ``pending``: messages already read from it
    (Twilio's ``start``, read to authenticate), handled before any new one."""
    if not await ensure_ready(ws, adapter.call_id):
        return
    manager = manager_of(ws)
    principal = auth.principal_of(ws)
    guard = SocketGuard(ws.app.state.settings.security)
    queued = deque(pending)
    session: CallSession | None = None
    legs: list[Leg] = []
    reason: EndReason = "disconnect"
    try:
        while True:
            await manager.writer.room()  # the store is behind: read no more audio until it catches up
            msg = queued.popleft() if queued else await receive_within(ws, guard.wait_s())
            if msg is not None and msg["type"] == "websocket.disconnect":
                break
            try:
                if msg is None:  # a deadline passed in silence: start, idle audio or call length
                    if (limit := guard.expired()) is None:
                        continue
                    raise FrameError(*limit, fatal=True)
                if (limit := guard.check()) is not None:
                    raise FrameError(*limit, fatal=True)
                step = adapter.on_message(msg)
                if isinstance(step, Start):
                    session = await join_call(manager, step.call_id, step.options, principal)
                    legs = list(step.options.legs)
                    guard.start(call_age_s(session))
                elif isinstance(step, Audio):
                    if session is None:
                        raise FrameError("not_started", "audio before start", fatal=True)
                    samples = len(step.chunks[0]) if step.chunks else 0  # a frame's channels are simultaneous
                    if (limit := guard.add_audio(samples, leg=step.legs[0])) is not None:
                        raise FrameError(*limit, fatal=True)
                    feed_legs(session, step.legs, step.chunks)
                elif isinstance(step, Stop):
                    reason = "stop"
                    break
            except FrameError as err:
                await send_error(ws, adapter.call_id, err)
                if err.fatal:
                    reason = "error"
                    await close_socket(ws, close_code(err.code), err.code)
                    break
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("audio socket of call %s failed", adapter.call_id)
        reason = "error"
        await send_error(ws, adapter.call_id,
                         FrameError("internal", "unexpected server error; the call ends", fatal=True))
    finally:
        if session is not None:
            for rest in adapter.remainders():
                feed_legs(session, rest.legs, rest.chunks, last=True)
            await asyncio.shield(manager.loop.create_task(session.detach(legs, reason)))
        await close_socket(ws)


# ---------------------------------------------------------------- for adapters


def make_decoder(encoding: Encoding, sample_rate: Literal[8000, 16000], channels: Literal[1, 2]) -> AudioDecoder:
    try:
        return AudioDecoder(encoding, sample_rate, channels, max_frame_ms=MAX_FRAME_MS)
    except AudioFormatError as exc:
        raise FrameError("unsupported_encoding", exc.message, fatal=True) from exc


def decode(decoder: AudioDecoder, frame: bytes, max_bytes: int) -> list[np.ndarray]:
    """One frame's samples per channel. A frame over ``max_bytes`` or ``MAX_FRAME_MS`` is ``frame_too_large``
    (fatal), one the decoder cannot read ``bad_audio``."""
    if len(frame) > max_bytes:
        raise FrameError("frame_too_large", f"audio frames are limited to {max_bytes} bytes", fatal=True)
    try:
        return decoder.feed(frame)
    except AudioFormatError as exc:
        too_large = exc.code == "frame_too_large"
        raise FrameError("frame_too_large" if too_large else "bad_audio", exc.message, fatal=too_large) from exc


def stream_language(value: str, field: str) -> StreamLanguage:
    """The check ``start.language`` gets, for protocols that name the language elsewhere (fatal ``bad_start``)."""
    try:
        return _LANGUAGE.validate_python(value)
    except ValidationError as exc:
        issues = validation_issues(exc.errors())
        message = f"{field}: {issues[0].message}"
        raise FrameError("bad_start", message, fatal=True, fields=[replace(i, field=field) for i in issues]) from exc


def owned_metadata(metadata: dict[str, str], owner: str | None) -> dict[str, str]:
    """The call's ``owner`` is the streaming key's id, never what the client claims."""
    metadata = {k: v for k, v in metadata.items() if k != "owner"}
    return {**metadata, "owner": owner} if owner else metadata


# ---------------------------------------------------------------- the driver's own steps


async def ensure_ready(ws: WebSocket, call_id: str) -> bool:
    """Models still loading: ``not_ready`` and close 1013 (try again later) on every audio socket."""
    services = ws.app.state.services
    if not services.readiness()["ready"]:
        await send_error(ws, call_id, FrameError("not_ready", "models are still loading; retry shortly", fatal=True))
        await close_socket(ws, TRY_LATER, "not_ready")
        return False
    manager = manager_of(ws)
    if manager.stages is None:
        manager.stages = services.stages
    return True


async def receive_within(ws: WebSocket, timeout_s: float) -> Message | None:
    """The next message, or ``None`` when none came within ``timeout_s`` (cancelling a receive loses nothing)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await ws.receive()
    except TimeoutError:
        return None


async def join_call(manager: CallManager, call_id: str, options: CallOptions,
                    principal: Principal | None = None) -> CallSession:
    """Join as ``principal`` (the socket's key): ``forbidden`` when the call belongs to another agent."""
    try:
        return await manager.join(call_id, options, principal)
    except CallError as exc:
        raise FrameError(exc.code, exc.message, fatal=True) from exc


def feed_legs(session: CallSession, legs: Sequence[Leg], chunks: Sequence[np.ndarray], *,
              last: bool = False) -> None:
    """Queue each channel's samples on its leg; a leg too far behind refuses them (fatal ``audio_backlog``).

    ``last``: the decoder's remainder as the socket ends, dropped rather than refused (the call must still end).
    """
    try:
        for leg, chunk in zip(legs, chunks, strict=False):
            session.feed(leg, chunk)
    except LegBacklogFull as exc:
        if not last:
            raise FrameError("audio_backlog", exc.message, fatal=True) from exc


def call_age_s(session: CallSession) -> float:
    """How long the call has been live: a second leg's or a reconnecting socket's guard counts from the call's start."""
    return time.time() - session.started
