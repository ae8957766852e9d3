"""Bad frames get coded `error` events; fatal ones close the socket cleanly and keep the audio received."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.live import connect, recv_all, recv_json, silence
from websockets.exceptions import ConnectionClosed

from assist.replay import replay_call

START = {"type": "start", "language": "ja", "encoding": "pcm16", "sample_rate": 16000}


async def _expect_fatal(ws, code: str, close_code: int = 1008) -> None:
    err = await recv_json(ws)
    assert err["type"] == "error" and err["code"] == code and err["fatal"] is True and err["seq"] == 0
    with pytest.raises(ConnectionClosed):
        await recv_json(ws)
    assert ws.close_code == close_code


@pytest.mark.parametrize("start, code", [
    ({**START, "sample_rate": 44100}, "unsupported_encoding"),
    ({**START, "encoding": "opus"}, "unsupported_encoding"),
    ({**START, "channels": 2, "legs": ["customer"]}, "bad_start"),
    ({**START, "language": "fr"}, "bad_start"),
    ({**START, "call_id": "other"}, "call_id_mismatch"),
])
async def test_bad_start_is_fatal(live, start, code) -> None:
    srv = live()
    async with await connect(f"{srv.url}/ws/calls/c1/audio") as ws:
        await ws.send(json.dumps(start))
        await _expect_fatal(ws, code)


async def test_recoverable_errors_keep_the_stream(live) -> None:
    srv = live({"customer": ["カードをなくしました"]}, {"カードをなくしました": ["lost-card"]})
    async with await connect(f"{srv.url}/ws/calls/c2/events?wait=1") as events:
        async with await connect(f"{srv.url}/ws/calls/c2/audio") as ws:
            await ws.send("{not json")
            assert (await recv_json(ws))["code"] == "bad_json"
            await ws.send("[1, 2]")
            assert (await recv_json(ws))["code"] == "bad_json"
            await ws.send(json.dumps({"type": "dance"}))
            assert (await recv_json(ws))["code"] == "unknown_type"
            await ws.send(json.dumps(START))
            await ws.send(json.dumps(START))
            assert (await recv_json(ws))["code"] == "already_started"
            await ws.send(json.dumps({"type": "stop", "extra": 1}))
            assert (await recv_json(ws))["code"] == "bad_message"
            await ws.send((silence(0.6) * 0).astype("<i2").tobytes())
            await ws.send(json.dumps({"type": "stop"}))
            assert await recv_all(ws) == []
        got = await recv_all(events)
    assert [e["type"] for e in got if e["type"] in ("transcript", "suggestions", "summary")] == [
        "transcript", "transcript", "suggestions", "summary"]


async def test_audio_before_start_is_fatal(live) -> None:
    srv = live()
    async with await connect(f"{srv.url}/ws/calls/c3/audio") as ws:
        await ws.send(b"\x00\x00" * 160)
        await _expect_fatal(ws, "not_started")


async def test_frame_too_large_ends_the_call_keeping_its_audio(live) -> None:
    srv = live({"customer": ["カードをなくしました"]}, {}, max_frame_bytes=20000)
    async with await connect(f"{srv.url}/ws/calls/c4/events?wait=1") as events:
        async with await connect(f"{srv.url}/ws/calls/c4/audio") as ws:
            await ws.send(json.dumps(START))
            for _ in range(2):  # 0.6 s of audio in accepted frames: one utterance for the fake recognizer
                await ws.send(np.zeros(4800, "<i2").tobytes())
            await ws.send(b"\x00" * 20002)
            await _expect_fatal(ws, "frame_too_large")
        got = await recv_all(events)
    assert any(e["type"] == "transcript" and e["final"] for e in got)
    assert got[-2]["type"] == "call_ended" and got[-2]["reason"] == "error"


async def test_bad_call_id_and_unknown_call(live) -> None:
    srv = live()
    async with await connect(f"{srv.url}/ws/calls/bad%20id/audio") as ws:
        await _expect_fatal(ws, "bad_start")
    async with await connect(f"{srv.url}/ws/calls/nobody/events") as ws:
        await _expect_fatal(ws, "unknown_call")
    async with await connect(f"{srv.url}/ws/calls/nobody/events?after_seq=-1") as ws:
        await _expect_fatal(ws, "bad_after_seq")


async def test_max_calls(live) -> None:
    srv = live({"customer": []}, {}, max_calls=1)
    async with await connect(f"{srv.url}/ws/calls/first/audio") as first:
        await first.send(json.dumps(START))
        async with await connect(f"{srv.url}/ws/calls/first/events?wait=1") as events:
            assert (await recv_json(events))["type"] == "call_started"
        events = await replay_call(srv.url, "second", {"customer": silence(0.1)}, realtime=False, timeout_s=10)
        assert [(e["type"], e["code"]) for e in events] == [("error", "too_many_calls")]
        await first.send(json.dumps({"type": "stop"}))
        await recv_all(first)
    events = await replay_call(srv.url, "third", {"customer": silence(0.1)}, realtime=False, timeout_s=10)
    assert events[0]["type"] == "call_started"
    async with await connect(f"{srv.url}/ws/calls/x/audio") as ws:
        await ws.send(json.dumps({**START, "leg": "customer"}))
        async with await connect(f"{srv.url}/ws/calls/x/audio") as dup:
            await dup.send(json.dumps({**START, "leg": "customer"}))
            await _expect_fatal(dup, "call_exists")


async def test_not_ready_until_models_load(tmp_path) -> None:
    from support.live import LiveServer, make_settings

    from assist.services import Services

    settings = make_settings(tmp_path)
    with LiveServer(settings, Services(settings)) as srv:
        async with await connect(f"{srv.url}/ws/calls/early/audio") as ws:
            await _expect_fatal(ws, "not_ready", close_code=1013)
