"""Hostile or broken clients are bounded: audio speed, per-leg backlog, start / idle / call-length timers,
the per-key call cap, and revoked keys losing their open sockets. A real server with fake models, short limits,
and waits on conditions rather than long sleeps."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import websockets
from support.auth import KeyedServer, start_keyed
from support.live import LiveServer, connect, fake_stages, recv_all, recv_json, silence
from support.wait import async_wait_until, wait_until
from websockets.exceptions import ConnectionClosed

from asr.base import Transcription
from asr.engine import AsrEngine
from asr.leg import LegBacklogFull
from assist.auth import KeyStore
from assist.replay import replay_call
from assist.services import Services
from config import AsrSettings, Settings

START = {"type": "start", "encoding": "pcm16", "sample_rate": 16000, "leg": "customer"}
SCRIPT = {"customer": ["もしもし", "カードをなくしました", "止めてください"]}


def pcm(seconds: float) -> bytes:
    return np.zeros(int(seconds * 16000), "<i2").tobytes()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Factory: ``serve(server={...}, **security)`` -> a started open-mode server with scripted fakes."""
    servers: list[LiveServer] = []

    def start(server: dict[str, Any] | None = None, **security: Any) -> LiveServer:
        settings = Settings(home=tmp_path, server={"preload_models": False, **(server or {})}, auth={"mode": "open"},
                            security=security)
        srv = LiveServer(settings, Services(settings, stages=fake_stages(SCRIPT))).__enter__()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.__exit__(None, None, None)


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[Callable[..., KeyedServer]]:
    servers: list[KeyedServer] = []

    def start(**security: Any) -> KeyedServer:
        ks = start_keyed(tmp_path, SCRIPT, security=security)
        servers.append(ks)
        return ks

    yield start
    for ks in servers:
        ks.srv.__exit__(None, None, None)


async def closed_with(ws: Any, timeout: float = 10.0) -> tuple[list[dict[str, Any]], int | None, float]:
    """Everything the server sends until it closes the socket, the close code, and when it closed."""
    got: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout):
            async for message in ws:
                got.append(json.loads(message))
    except ConnectionClosed:  # a policy close (1008, 1013) ends the iteration with an exception
        pass
    return got, ws.close_code, time.monotonic()


async def stored_summary(srv: LiveServer, call_id: str) -> dict[str, Any]:
    store = srv.services.call_store
    return (await async_wait_until(lambda: store.summary(call_id), 10, f"the notes of {call_id}"))["notes"]


def ended_reason(srv: LiveServer, call_id: str) -> str:
    events = srv.services.call_store.events_after(call_id, 0)
    return next(e["reason"] for e in events if e["type"] == "call_ended")


# ---------------------------------------------------------------- audio speed and backlog


async def test_audio_far_faster_than_real_time_is_refused_while_other_calls_recognize(serve) -> None:
    srv = serve(max_audio_speed=1.5, audio_burst_s=2.0)

    async def hog() -> tuple[list[dict[str, Any]], int | None, float]:
        async with await connect(f"{srv.url}/ws/calls/hog/audio") as ws:
            await ws.send(json.dumps(START))
            started = time.monotonic()

            async def push() -> None:
                try:
                    for _ in range(600):  # 60 s of audio, as fast as the socket takes it
                        await ws.send(pcm(0.1))
                except ConnectionClosed:
                    pass

            sender = asyncio.create_task(push())
            got, code, ended = await closed_with(ws)
            await sender
            return got, code, ended - started

    calm = replay_call(srv.url, "calm", {"customer": silence(1.6)}, realtime=True, timeout_s=30)
    (got, code, elapsed), events = await asyncio.gather(hog(), calm)

    assert [(e["code"], e["fatal"]) for e in got] == [("audio_too_fast", True)] and code == 1008
    fed = next(leg for leg in srv.services.stages.asr.legs if leg.call_id == "hog").samples / 16000
    assert 1.9 <= fed <= 2.0 + 1.5 * elapsed + 0.1, (fed, elapsed)  # the burst, then 1.5 × real time at most
    assert ended_reason(srv, "hog") == "error"
    assert (await stored_summary(srv, "hog"))["inquiry"][0]["text"] == "もしもし", "its notes are still written"

    finals = [e["text"] for e in events if e["type"] == "transcript" and e["final"]]
    assert finals == SCRIPT["customer"], "the call streamed at real time was recognized throughout"
    assert events[-1]["type"] == "summary" and not [e for e in events if e["type"] == "error"]


class InstantRecognizer:
    name = "instant"

    def transcribe(self, audio: np.ndarray, *, language: str | None, beam_size: int = 5,
                   prompt: str | None = None) -> Transcription:
        return Transcription(text="はい", language=language or "ja", avg_logprob=-0.1)


def test_one_legs_backlog_is_bounded_and_does_not_delay_other_legs() -> None:
    """The VAD thread is held on the hog's first chunk while both legs queue audio: the hog's backlog stops at
    ``max_backlog_s`` (``audio_backlog``), and once released the calm leg is served next, not after the hog."""
    engine = AsrEngine(InstantRecognizer(), AsrSettings(workers=1, partial_interval_s=0, max_backlog_s=2.0))
    gate, order = threading.Event(), []
    try:
        hog = engine.open_leg("hog", "customer", language="ja", on_event=lambda e: None)
        calm = engine.open_leg("calm", "customer", language="ja", on_event=lambda e: None)
        for name, leg in (("hog", hog), ("calm", calm)):
            def traced(samples: np.ndarray, arrival: float, name: str = name, push: Any = leg.segmenter.push) -> Any:
                order.append(name)
                if name == "hog":
                    assert gate.wait(10)
                return push(samples, arrival)

            leg.segmenter.push = traced  # type: ignore[method-assign]
        chunk = np.zeros(1600, np.float32)  # 0.1 s
        hog.feed(chunk)
        wait_until(lambda: order, 10, "the VAD thread to hold the hog's first chunk", interval_s=0.01)
        for _ in range(20):  # 2 s: the bound
            hog.feed(chunk)
        with pytest.raises(LegBacklogFull) as refused:
            hog.feed(chunk)
        assert refused.value.code == "audio_backlog"
        assert engine.stats()["audio_backlog"] == 20 and hog.lag_s > 0
        calm.feed(chunk)  # the calm leg's own inbox has room
        gate.set()
        for leg in (hog, calm):
            leg.close()
            assert leg.join(10)
    finally:
        gate.set()
        engine.close()
    assert order.count("hog") == 21 and order.count("calm") == 1
    assert order.index("calm") <= 2, order  # a shared FIFO would have served it after all 21 hog chunks


# ---------------------------------------------------------------- timers


async def test_silent_sockets_time_out_and_free_their_call_slot_with_notes_written(serve) -> None:
    srv = serve(server={"max_calls": 1}, start_timeout_s=0.5, idle_audio_s=2.0)
    async with await connect(f"{srv.url}/ws/calls/never/audio") as ws:  # never sends start
        opened = time.monotonic()
        got, code, closed = await closed_with(ws)
    assert [e["code"] for e in got] == ["start_timeout"] and got[0]["fatal"] and code == 1008
    assert 0.4 <= closed - opened < 5

    async with await connect(f"{srv.url}/ws/calls/idle/events?wait=1") as events, \
            await connect(f"{srv.url}/ws/calls/idle/audio") as ws:
        await ws.send(json.dumps(START))  # ... and nothing else
        started = time.monotonic()
        await async_wait_until(lambda: srv.app.state.calls.active == 1, 5, "the call to open")
        async with await connect(f"{srv.url}/ws/calls/other/audio") as other:
            await other.send(json.dumps(START))
            refused = await recv_json(other)
        assert refused["code"] == "too_many_calls", "the silent socket holds the only call slot"
        got, code, closed = await closed_with(ws)
        stream = await recv_all(events)
    assert [e["code"] for e in got] == ["idle_timeout"] and code == 1008
    assert 1.9 <= closed - started < 8
    assert [e["type"] for e in stream][-2:] == ["call_ended", "summary"], "the call ended cleanly, notes written"
    assert stream[-2]["reason"] == "error" and await stored_summary(srv, "idle") is not None
    assert srv.app.state.calls.active == 0
    events = await replay_call(srv.url, "other", {"customer": silence(0.6)}, realtime=False, timeout_s=20)
    assert events[-1]["type"] == "summary", "the freed slot takes the next call"


async def test_max_call_length_ends_a_call_even_when_nothing_arrives(serve) -> None:
    srv = serve(max_call_s=1.5, idle_audio_s=30)
    async with await connect(f"{srv.url}/ws/calls/long/events?wait=1") as events, \
            await connect(f"{srv.url}/ws/calls/long/audio") as ws:
        await ws.send(json.dumps(START))
        started = time.monotonic()
        await ws.send(pcm(0.6))  # one scripted utterance, then silence on the wire
        got, code, closed = await closed_with(ws)
        stream = await recv_all(events)
    assert [(e["code"], e["fatal"]) for e in got] == [("call_too_long", True)] and code == 1008
    assert 1.4 <= closed - started < 6
    finals = [e["text"] for e in stream if e["type"] == "transcript" and e["final"]]
    assert finals == ["もしもし"] and stream[-1]["type"] == "summary"
    assert stream[-1]["notes"]["inquiry"][0]["text"] == "もしもし"
    assert (await stored_summary(srv, "long"))["inquiry"][0]["text"] == "もしもし"


async def test_twilio_streams_have_the_same_limits(serve) -> None:
    srv = serve(idle_audio_s=0.8, audio_burst_s=1.0)

    def start(call_sid: str) -> str:
        return json.dumps({"event": "start", "streamSid": "MZ1", "start": {
            "accountSid": "AC1", "streamSid": "MZ1", "callSid": call_sid, "tracks": ["inbound"],
            "customParameters": {}, "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})

    media = json.dumps({"event": "media", "streamSid": "MZ1", "media": {
        "track": "inbound", "chunk": "1", "timestamp": "0", "payload": base64.b64encode(b"\xff" * 160).decode()}})
    async with await connect(f"{srv.url}/twilio/media") as ws:
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send(start("CA-idle"))
        got, code, _ = await closed_with(ws)
    assert [e["code"] for e in got] == ["idle_timeout"] and code == 1008
    async with await connect(f"{srv.url}/twilio/media") as ws:
        await ws.send(start("CA-fast"))
        try:
            for _ in range(250):  # 5 s of 20 ms frames at once
                await ws.send(media)
        except ConnectionClosed:
            pass
        got, code, _ = await closed_with(ws)
    assert [e["code"] for e in got] == ["audio_too_fast"] and code == 1008
    await stored_summary(srv, "CA-fast")


# ---------------------------------------------------------------- keys


def bearer(key: str) -> dict[str, Any]:
    return {"additional_headers": {"Authorization": f"Bearer {key}"}, "open_timeout": 10, "max_size": None}


async def open_call(ks: KeyedServer, role: str, call_id: str) -> Any:
    ws = await websockets.connect(f"{ks.url}/ws/calls/{call_id}/audio", **bearer(ks.keys[role]))
    await ws.send(json.dumps(START))
    await ws.send(pcm(0.1))
    return ws


async def test_each_key_has_a_concurrent_call_cap(keyed) -> None:
    ks = keyed(max_calls_per_key=2)
    manager = ks.srv.app.state.calls
    agent = ks.key_ids["agent"]
    first, second = await open_call(ks, "agent", "cap-1"), await open_call(ks, "agent", "cap-2")
    await async_wait_until(lambda: manager.live_calls_of(agent) == 2, 5, "two live calls")
    third = await open_call(ks, "agent", "cap-3")
    got, code, _ = await closed_with(third)
    assert [(e["code"], e["fatal"]) for e in got] == [("too_many_calls_for_key", True)] and code == 1013
    other = await open_call(ks, "agent2", "cap-b")  # another key is not affected
    await async_wait_until(lambda: manager.live_calls_of(ks.key_ids["agent2"]) == 1, 5, "the other key's call")
    await first.send(json.dumps({"type": "stop"}))
    await recv_all(first)
    await async_wait_until(lambda: manager.live_calls_of(agent) == 1, 5, "the stopped call to end")
    again = await open_call(ks, "agent", "cap-3")
    await async_wait_until(lambda: manager.live_calls_of(agent) == 2, 5, "a call in the freed place")
    for ws in (second, other, again):
        await ws.send(json.dumps({"type": "stop"}))
        assert await recv_all(ws) == []


async def test_revoking_a_key_over_rest_closes_its_sockets_at_once(keyed) -> None:
    ks = keyed()
    audio = await open_call(ks, "agent", "rv-1")
    await async_wait_until(lambda: ks.srv.app.state.calls.get("rv-1"), 5, "the call")
    events = await websockets.connect(f"{ks.url}/ws/calls/rv-1/events", **bearer(ks.keys["agent"]))
    assert (await recv_json(events))["type"] == "call_started"
    bystander = await open_call(ks, "agent2", "rv-2")
    sockets = ks.srv.app.state.auth.sockets
    await async_wait_until(lambda: sockets.open_sockets(ks.key_ids["agent"]) == 2, 5, "both sockets registered")
    async with httpx.AsyncClient(base_url=ks.http, headers=ks.headers("admin")) as client:
        revoked_at = time.monotonic()
        response = await client.delete(f"/api/keys/{ks.key_ids['agent']}")
    assert response.status_code == 200 and response.json()["closed_sockets"] == 2
    for ws in (audio, events):
        got, code, closed = await closed_with(ws, 5)
        assert got[-1]["code"] == "key_revoked" and got[-1]["fatal"] and code == 1008
        assert closed - revoked_at < 1.0
    await bystander.send(pcm(0.1))
    await bystander.send(json.dumps({"type": "stop"}))
    assert await recv_all(bystander) == [], "another key's socket streams on"
    srv = ks.srv
    assert (await stored_summary(srv, "rv-1")) is not None, "the revoked key's call ended with its notes"


async def test_a_key_revoked_by_another_process_loses_its_sockets_within_seconds(keyed) -> None:
    ks = keyed()
    audio = await open_call(ks, "agent", "cli-1")
    await async_wait_until(lambda: ks.srv.app.state.auth.sockets.open_sockets(ks.key_ids["agent"]) == 1, 5, "registered")
    store = KeyStore(ks.srv.settings.db_path)  # what `assist keys revoke` does: the database, not the server
    try:
        revoked_at = time.monotonic()
        assert store.revoke(ks.key_ids["agent"])
    finally:
        store.close()
    got, code, closed = await closed_with(audio, 10)
    assert got[-1]["code"] == "key_revoked" and code == 1008
    assert closed - revoked_at < 2.5
