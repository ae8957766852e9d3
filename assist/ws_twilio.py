"""``WS /twilio/media``: Twilio Media Streams (track inbound → customer, outbound → agent) as a live call."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from asr.audio import AudioDecoder
from assist import auth, security, twilio_auth
from assist.session import CallOptions, CallSession, EndReason
from assist.twilio import TRACK_LEGS, TWILIO_ADAPTER, TwilioMedia, TwilioStart, TwilioStop
from assist.ws_common import (
    CALL_ID,
    FrameError,
    call_age_s,
    close_code,
    close_socket,
    end_in_background,
    ensure_ready,
    feed_legs,
    join_call,
    make_decoder,
    manager_of,
    owned_metadata,
    parse_json,
    receive_within,
    send_error,
    validation_message,
)

log = logging.getLogger(__name__)
router = APIRouter()



@router.websocket("/twilio/media")
async def twilio_media(ws: WebSocket) -> None:
    settings = ws.app.state.settings
    if not await twilio_auth.check_signature(ws, settings.twilio):
        return
    await auth.accept(ws)
    replay = await twilio_auth.authenticate_stream(ws, settings)  # keys mode: the start event's token
    call_id = "twilio"
    if not await ensure_ready(ws, call_id):
        return
    manager = manager_of(ws)
    session: CallSession | None = None
    decoders: dict[str, AudioDecoder] = {}
    legs: list = []
    reason: EndReason = "disconnect"
    guard = security.SocketGuard(settings.security)
    try:
        while True:
            msg = replay.pop() if replay else await receive_within(ws, guard.wait_s())
            if msg is not None and msg["type"] == "websocket.disconnect":
                break
            try:
                if msg is None:  # a deadline passed in silence: start, idle audio or call length
                    if (limit := guard.expired()) is None:
                        continue
                    raise FrameError(*limit, fatal=True)
                if (limit := guard.check()) is not None:
                    raise FrameError(*limit, fatal=True)
                if msg.get("text") is None:
                    raise FrameError("bad_message", "Twilio sends JSON text messages only")
                data = parse_json(msg["text"], settings.server.max_json_bytes)
                if data.get("event") not in ("connected", "start", "media", "stop", "mark", "dtmf"):
                    raise FrameError("unknown_type", f"unknown Twilio event {data.get('event')!r}")
                try:
                    message = TWILIO_ADAPTER.validate_python(data)
                except ValidationError as exc:
                    code = "bad_start" if data.get("event") == "start" else "bad_message"
                    raise FrameError(code, validation_message(exc), fatal=code == "bad_start") from exc
                if isinstance(message, TwilioStart):
                    if session is not None:
                        raise FrameError("already_started", "this stream has already started")
                    info = message.start
                    call_id = info.custom_parameters.get("call_id") or info.call_sid
                    if not CALL_ID.match(call_id):
                        raise FrameError("bad_start", "call_id custom parameter is not a valid call id", fatal=True)
                    legs = [TRACK_LEGS[t] for t in dict.fromkeys(info.tracks)]
                    decoders = {t: make_decoder("mulaw", 8000, 1) for t in dict.fromkeys(info.tracks)}
                    metadata = owned_metadata({k: v for k, v in info.custom_parameters.items()
                                       if k not in ("call_id", twilio_auth.TOKEN_PARAMETER)},
                                      auth.principal_of(ws).key_id)
                    options = CallOptions(language=info.custom_parameters.get("language") or settings.language,
                                          legs=tuple(legs), source="twilio", metadata=metadata)
                    if options.language not in ("ja", "en", "auto"):
                        raise FrameError("bad_start", "language must be ja, en or auto", fatal=True)
                    session = await join_call(manager, call_id, options, auth.principal_of(ws))
                    guard.start(call_age_s(session))
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
                    leg = TRACK_LEGS[message.media.track]  # type: ignore[index]
                    if (limit := guard.add_audio(len(samples), leg=leg)) is not None:
                        raise FrameError(*limit, fatal=True)
                    feed_legs(session, [leg], [samples])
                elif isinstance(message, TwilioStop):
                    reason = "stop"
                    break
            except FrameError as err:
                await send_error(ws, call_id, err)
                if err.fatal:
                    reason = "error"
                    await close_socket(ws, close_code(err.code), err.code)
                    break
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("audio socket of call %s failed", call_id)
        reason = "error"
        await send_error(ws, call_id, FrameError("internal", "unexpected server error; the call ends", fatal=True))
    finally:
        if session is not None:
            for track, decoder in decoders.items():
                feed_legs(session, [TRACK_LEGS[track]], decoder.flush(), last=True)  # type: ignore[index]
            await asyncio.shield(end_in_background(manager, session, legs, reason))
        await close_socket(ws)
