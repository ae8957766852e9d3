"""One audio-socket driver for the PCM/μ-law socket and Twilio Media Streams: the adapters' steps, and the same
rules on both sockets (close codes, the language check, frames too long for the decoder)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.live import connect, recv_json
from websockets.exceptions import ConnectionClosed

from assist.audio_socket import Audio, Start, Stop
from assist.ws import PcmAdapter
from assist.ws_common import FrameError
from assist.ws_twilio import TwilioAdapter
from config import Settings

SID = "MZ18ad3ab5a668481ce02b83e7395059f0"
FIVE_S_MULAW = 5 * 8000


def _text(data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "websocket.receive", "text": json.dumps(data)}


def _twilio_start(params: dict[str, str] | None = None, tracks: tuple[str, ...] = ("inbound",)) -> dict[str, Any]:
    return {"event": "start", "sequenceNumber": "1", "streamSid": SID,
            "start": {"accountSid": "AC1", "streamSid": SID, "callSid": "CA9", "tracks": list(tracks),
                      "customParameters": params or {},
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}


def _twilio_media(payload: bytes, track: str = "inbound") -> dict[str, Any]:
    return {"event": "media", "streamSid": SID,
            "media": {"track": track, "chunk": "1", "payload": base64.b64encode(payload).decode()}}


def _fatal(adapter: Any, msg: dict[str, Any]) -> FrameError:
    with pytest.raises(FrameError) as caught:
        adapter.on_message(msg)
    return caught.value


def test_pcm_adapter_steps() -> None:
    adapter = PcmAdapter("c1", Settings(language="en"), owner="k1")
    assert _fatal(adapter, {"type": "websocket.receive", "bytes": b"\0\0"}).code == "not_started"
    assert _fatal(adapter, _text({"type": "stop"})).code == "not_started"
    assert adapter.on_message(_text({"type": "auth", "token": "x"})) is None
    start = adapter.on_message(_text({"type": "start", "channels": 2, "metadata": {"owner": "spoofed", "q": "1"}}))
    assert isinstance(start, Start) and start.call_id == "c1"
    assert start.options.legs == ("customer", "agent") and start.options.language == "en"
    assert start.options.metadata == {"q": "1", "owner": "k1"}, "the owner is the key's, never the client's"
    already = _fatal(adapter, _text({"type": "start"}))
    assert already.code == "already_started" and not already.fatal
    frame = np.array([1000, -1000] * 320, "<i2").tobytes()  # 20 ms, two interleaved channels
    audio = adapter.on_message({"type": "websocket.receive", "bytes": frame})
    assert isinstance(audio, Audio) and list(audio.legs) == ["customer", "agent"]
    assert [len(c) for c in audio.chunks] == [320, 320] and audio.chunks[0][100] > 0 > audio.chunks[1][100]
    assert isinstance(adapter.on_message(_text({"type": "stop"})), Stop)
    assert [list(r.legs) for r in adapter.remainders()] == [["customer", "agent"]]


def test_twilio_adapter_steps() -> None:
    adapter = TwilioAdapter(Settings(), owner=None)
    assert adapter.call_id == "twilio"
    assert adapter.on_message(_text({"event": "connected", "protocol": "Call"})) is None
    assert _fatal(adapter, _text(_twilio_media(b"\xff" * 160))).code == "not_started"
    start = adapter.on_message(_text(_twilio_start({"call_id": "mine", "language": "auto", "agent": "a-7"},
                                                   tracks=("inbound", "outbound"))))
    assert isinstance(start, Start) and start.call_id == adapter.call_id == "mine"
    assert start.options.source == "twilio" and start.options.legs == ("customer", "agent")
    assert start.options.language == "auto" and start.options.metadata == {"language": "auto", "agent": "a-7"}
    audio = adapter.on_message(_text(_twilio_media(b"\xff" * 160, track="outbound")))
    assert isinstance(audio, Audio) and list(audio.legs) == ["agent"] and len(audio.chunks) == 1
    assert _fatal(adapter, {"type": "websocket.receive", "bytes": b"x"}).code == "bad_message"
    assert isinstance(adapter.on_message(_text({"event": "stop", "streamSid": SID})), Stop)
    rest = {r.legs[0]: r.chunks[0] for r in adapter.remainders()}
    assert set(rest) == {"agent", "customer"}
    assert len(audio.chunks[0]) + len(rest["agent"]) == 320, "20 ms of 8 kHz μ-law is 320 samples at 16 kHz"


def test_twilio_language_is_checked_like_start_language() -> None:
    pcm = _fatal(PcmAdapter("c1", Settings(), owner=None), _text({"type": "start", "language": "fr"}))
    twilio_adapter = TwilioAdapter(Settings(), owner=None)
    twilio = _fatal(twilio_adapter, _text(_twilio_start({"language": "fr"})))
    assert (pcm.code, pcm.fatal) == (twilio.code, twilio.fatal) == ("bad_start", True)
    assert [(i.code, i.field) for i in twilio.fields] == [("literal_error", "start.customParameters.language")]
    assert twilio.fields[0].message == pcm.fields[0].message, "one validator, one wording"
    assert twilio_adapter.call_id == "CA9", "the error names the call the start announced"


def test_a_frame_longer_than_the_decoder_takes_is_too_large_on_both() -> None:
    pcm = PcmAdapter("c1", Settings(), owner=None)
    pcm.on_message(_text({"type": "start", "encoding": "mulaw", "sample_rate": 8000}))
    twilio = TwilioAdapter(Settings(), owner=None)
    twilio.on_message(_text(_twilio_start()))
    for adapter, msg in ((pcm, {"type": "websocket.receive", "bytes": b"\xff" * (FIVE_S_MULAW + 8)}),
                         (twilio, _text(_twilio_media(b"\xff" * (FIVE_S_MULAW + 8))))):
        err = _fatal(adapter, msg)
        assert (err.code, err.fatal) == ("frame_too_large", True), type(adapter).__name__


async def _expect_close(ws: Any, code: str, close_code: int) -> dict[str, Any]:
    event = await recv_json(ws)
    assert event["type"] == "error" and event["code"] == code and event["fatal"] is True, event
    with pytest.raises(ConnectionClosed):
        await recv_json(ws)
    assert ws.close_code == close_code
    return event


async def test_not_ready_closes_1013_on_both_sockets(tmp_path: Path) -> None:
    from support.live import LiveServer, make_settings

    from assist.services import Services

    settings = make_settings(tmp_path)
    with LiveServer(settings, Services(settings)) as srv:
        async with await connect(f"{srv.url}/ws/calls/early/audio") as ws:
            assert (await _expect_close(ws, "not_ready", 1013))["call_id"] == "early"
        async with await connect(f"{srv.url}/twilio/media") as ws:
            assert (await _expect_close(ws, "not_ready", 1013))["call_id"] == "twilio"


async def test_twilio_stream_gets_the_shared_rules(live) -> None:
    srv = live()
    async with await connect(f"{srv.url}/twilio/media") as ws:
        await ws.send(json.dumps(_twilio_start({"language": "fr"})))
        event = await _expect_close(ws, "bad_start", 1008)
    assert event["call_id"] == "CA9" and event["fields"][0]["field"] == "start.customParameters.language"
    async with await connect(f"{srv.url}/twilio/media") as ws:
        await ws.send(json.dumps(_twilio_start()))
        await ws.send(json.dumps(_twilio_media(b"\xff" * (FIVE_S_MULAW + 8))))  # under max_frame_bytes
        await _expect_close(ws, "frame_too_large", 1008)  # was `internal` before the shared driver
    async with await connect(f"{srv.url}/ws/calls/e2/events?wait=1") as events:
        async with await connect(f"{srv.url}/twilio/media") as ws:
            await ws.send(json.dumps(_twilio_start({"call_id": "e2"})))
            await ws.send(json.dumps(_twilio_media(b"\xff" * 160)))
            await ws.send(json.dumps({"event": "stop", "streamSid": SID}))
            with pytest.raises(ConnectionClosed):
                await recv_json(ws)
        types = []
        while not types or types[-1] != "call_ended":
            types.append((await recv_json(events))["type"])
    assert types[0] == "call_started" and types[-1] == "call_ended"
