"""``WS /twilio/media``: Twilio Media Streams (track inbound → customer, outbound → agent) as a live call.

The loop is ``assist/audio_socket.py``'s; this module is the adapter: Twilio's JSON events in, one μ-law
8 kHz decoder per announced track.
"""

from __future__ import annotations

import base64
import binascii
import logging

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.types import Message

from asr.audio import AudioDecoder
from assist import auth, twilio_auth
from assist.audio_socket import (
    Audio,
    Start,
    Step,
    Stop,
    decode,
    make_decoder,
    owned_metadata,
    serve_audio,
    stream_language,
)
from assist.session import CallOptions
from assist.twilio import TRACK_LEGS, TWILIO_ADAPTER, TwilioMedia, TwilioStart, TwilioStop
from assist.ws_common import CALL_ID, FrameError, invalid, parse_json
from config import Settings

log = logging.getLogger(__name__)
router = APIRouter()

EVENTS = ("connected", "start", "media", "stop", "mark", "dtmf")
RESERVED_PARAMETERS = ("call_id", twilio_auth.TOKEN_PARAMETER)  # not copied into the call's metadata


@router.websocket("/twilio/media")
async def twilio_media(ws: WebSocket) -> None:
    settings = ws.app.state.settings
    if not await twilio_auth.check_signature(ws, settings.twilio):
        return
    await auth.accept(ws)
    replay = await twilio_auth.authenticate_stream(ws, settings)  # keys mode: the start event's token
    await serve_audio(ws, TwilioAdapter(settings, auth.principal_of(ws).key_id), pending=replay)


class TwilioAdapter:
    """Twilio sends JSON text only: ``connected``, one ``start``, ``media`` per track and 20 ms, ``stop``.
    The call id is the ``call_id`` custom parameter or Twilio's ``callSid``; ``language`` may be one too."""

    def __init__(self, settings: Settings, owner: str | None) -> None:
        self.call_id = "twilio"  # until the start event names the call
        self._server = settings.server
        self._language = settings.language
        self._owner = owner
        self._started = False
        self._decoders: dict[str, AudioDecoder] = {}

    def on_message(self, msg: Message) -> Step:
        if msg.get("text") is None:
            raise FrameError("bad_message", "Twilio sends JSON text messages only")
        data = parse_json(msg["text"], self._server.max_json_bytes)
        if data.get("event") not in EVENTS:
            raise FrameError("unknown_type", f"unknown Twilio event {data.get('event')!r}")
        try:
            message = TWILIO_ADAPTER.validate_python(data)
        except ValidationError as exc:
            start = data.get("event") == "start"
            raise invalid("bad_start" if start else "bad_message", exc, fatal=start) from exc
        if isinstance(message, TwilioStart):
            return self._start(message)
        if isinstance(message, TwilioMedia):
            return self._media(message)
        if isinstance(message, TwilioStop):
            return Stop()
        return None  # connected, mark, dtmf

    def remainders(self) -> list[Audio]:
        return [Audio([TRACK_LEGS[track]], decoder.flush()) for track, decoder in self._decoders.items()]

    def _start(self, message: TwilioStart) -> Start:
        if self._started:
            raise FrameError("already_started", "this stream has already started")
        info = message.start
        params = info.custom_parameters
        call_id = params.get("call_id") or info.call_sid
        if not CALL_ID.match(call_id):
            raise FrameError("bad_start", "call_id custom parameter is not a valid call id", fatal=True)
        self.call_id = call_id
        language = stream_language(params.get("language") or self._language, "start.customParameters.language")
        tracks = list(dict.fromkeys(info.tracks))
        self._decoders = {track: make_decoder("mulaw", 8000, 1) for track in tracks}
        self._started = True
        metadata = owned_metadata({k: v for k, v in params.items() if k not in RESERVED_PARAMETERS}, self._owner)
        return Start(call_id, CallOptions(language=language, legs=tuple(TRACK_LEGS[t] for t in tracks),
                                          source="twilio", metadata=metadata))

    def _media(self, message: TwilioMedia) -> Audio:
        if not self._started:
            raise FrameError("not_started", "media before start", fatal=True)
        track = message.media.track
        decoder = self._decoders.get(track)
        if decoder is None:
            raise FrameError("bad_message", f"track {track} was not announced in start")
        try:
            payload = base64.b64decode(message.media.payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise FrameError("bad_audio", "media.payload is not base64") from exc
        return Audio([TRACK_LEGS[track]], decode(decoder, payload, self._server.max_frame_bytes))
