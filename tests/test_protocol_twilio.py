"""Twilio Media Streams in its own message format: inbound -> customer, outbound -> agent."""

from __future__ import annotations

import base64
import json

import pytest
from support.live import connect, recv_all, recv_json
from websockets.exceptions import ConnectionClosed

SID = "MZ18ad3ab5a668481ce02b83e7395059f0"


def _media(track: str, chunk: int, payload: bytes) -> str:
    return json.dumps({"event": "media", "sequenceNumber": str(chunk + 2), "streamSid": SID,
                       "media": {"track": track, "chunk": str(chunk), "timestamp": str(chunk * 20),
                                 "payload": base64.b64encode(payload).decode()}})


async def test_twilio_stream_becomes_a_call(live) -> None:
    srv = live({"customer": ["カードをなくしました"], "agent": ["承知いたしました"]},
               {"カードをなくしました": ["lost-card"]})
    silence = b"\xff" * 160  # 20 ms of μ-law silence at 8 kHz
    async with await connect(f"{srv.url}/ws/calls/CA123/events?wait=1") as events:
        async with await connect(f"{srv.url}/twilio/media") as ws:
            await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            await ws.send(json.dumps({
                "event": "start", "sequenceNumber": "1", "streamSid": SID,
                "start": {"accountSid": "AC123", "streamSid": SID, "callSid": "CA123",
                          "tracks": ["inbound", "outbound"], "customParameters": {"agent": "a-7"},
                          "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}))
            for chunk in range(30):  # 0.6 s per track
                await ws.send(_media("inbound", chunk, silence))
                await ws.send(_media("outbound", chunk, silence))
            await ws.send(_media("inbound", 99, b"") .replace('"payload": ""', '"payload": "***"'))
            assert (await recv_json(ws))["code"] == "bad_audio"
            await ws.send(json.dumps({"event": "mark", "streamSid": SID, "mark": {"name": "x"}}))
            await ws.send(json.dumps({"event": "stop", "sequenceNumber": "99", "streamSid": SID,
                                      "stop": {"accountSid": "AC123", "callSid": "CA123"}}))
            assert await recv_all(ws) == []
        got = await recv_all(events)
    assert got[0]["type"] == "call_started" and got[0]["source"] == "twilio"
    assert got[0]["legs"] == ["customer", "agent"] and got[0]["metadata"] == {"agent": "a-7"}
    finals = {e["leg"]: e["text"] for e in got if e["type"] == "transcript" and e["final"]}
    assert finals == {"customer": "カードをなくしました", "agent": "承知いたしました"}
    assert [e["items"][0]["article_id"] for e in got if e["type"] == "suggestions"] == ["lost-card"]
    assert got[-1]["type"] == "summary"


async def test_twilio_media_before_start_is_refused(live) -> None:
    srv = live()
    async with await connect(f"{srv.url}/twilio/media") as ws:
        await ws.send(_media("inbound", 0, b"\xff" * 160))
        err = await recv_json(ws)
        assert err["code"] == "not_started" and err["fatal"]
        with pytest.raises(ConnectionClosed):
            await recv_json(ws)
        assert ws.close_code == 1008
