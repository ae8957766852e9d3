"""Hypothesis against the websockets: malformed JSON, wrong types, odd encodings and sample rates, random
and oversized binary frames, garbage call ids and query strings, Twilio events with bad payloads.

Every socket must end cleanly (never 1011), every answer must be an event with a known error code (never
``internal``), and afterwards no call may be left open and no thread left behind.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.live import LiveServer, fake_stages, make_settings
from support.wait import wait_until

from assist.events import ERROR_CODES
from assist.services import Services

pytestmark = pytest.mark.slow  # hypothesis, hundreds of sockets
KNOWN_CODES = set(ERROR_CODES) - {"internal"}  # the protocol's one list; a server error is never "known"
CLEAN_CLOSES = {1000, 1005, 1008, 1009, 1013}
MAX_FRAME = 4000

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
start_fields = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["start", "stop", "auth", "media", "", "START"]) | st.text(max_size=8),
    "encoding": st.sampled_from(["pcm16", "mulaw", "opus", "flac", "PCM16", ""]) | json_values,
    "sample_rate": st.sampled_from([8000, 16000, 44100, 0, -1, 7999, 2**31]) | json_values,
    "channels": st.sampled_from([1, 2, 3, 0, -1]) | json_values,
    "leg": st.sampled_from(["customer", "agent", "both", ""]) | json_values,
    "legs": st.lists(st.sampled_from(["customer", "agent", "x"]), max_size=3) | json_values,
    "language": st.sampled_from(["ja", "en", "auto", "fr", ""]) | json_values,
    "call_id": st.sampled_from(["fz", "other"]) | json_values,
    "interim_results": json_values,
    "metadata": json_values,
})
text_frames = (start_fields.map(json.dumps)
               | json_values.map(json.dumps)
               | st.text(max_size=200)
               | st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
binary_frames = st.binary(max_size=700) | st.integers(MAX_FRAME - 2, MAX_FRAME + 3).map(lambda n: b"\x01" * n)
VALID_START = json.dumps({"type": "start", "encoding": "pcm16", "sample_rate": 16000, "leg": "customer"})
garbage = st.lists(text_frames | binary_frames, min_size=1, max_size=8)
audio_messages = garbage | garbage.map(lambda rest: [VALID_START, b"\x00\x01" * 160, *rest])  # garbage mid-call
call_ids = st.sampled_from(["fz", "fz.1", "a" * 128, "a" * 129, "../etc", "日本語", " ", "x%00y"]) | st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)

twilio_events = st.fixed_dictionaries({"event": st.sampled_from(["connected", "start", "media", "stop", "mark",
                                                                 "dtmf", "bogus"]) | json_values}, optional={
    "start": st.fixed_dictionaries({}, optional={
        "streamSid": st.text(max_size=10), "callSid": st.sampled_from(["CA1", ""]) | json_values,
        "tracks": st.lists(st.sampled_from(["inbound", "outbound", "both"]), max_size=3) | json_values,
        "customParameters": st.dictionaries(st.sampled_from(["call_id", "language", "x"]), st.text(max_size=12)),
        "mediaFormat": json_values}),
    "media": st.fixed_dictionaries({}, optional={
        "track": st.sampled_from(["inbound", "outbound", "x"]) | json_values,
        "payload": st.sampled_from(["AAAA", "!!!", "", "/w==" * 50]) | st.text(max_size=20),
        "chunk": json_values, "timestamp": json_values}),
    "streamSid": st.text(max_size=10),
})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings_ = make_settings(tmp_path_factory.mktemp("fuzzws"), max_frame_bytes=MAX_FRAME, max_json_bytes=2048,
                              max_calls=4)
    before = {t.ident for t in threading.enumerate()}  # other tests' process-wide threads (tqdm's monitor, ...)
    srv = LiveServer(settings_, Services(settings_, stages=fake_stages({"customer": ["もしもし"]}))).__enter__()
    srv.threads_before = before  # type: ignore[attr-defined]
    yield srv
    srv.__exit__(None, None, None)


def _check_answers(answers: list[Any], close_code: int | None) -> None:
    for raw in answers:
        event = json.loads(raw)
        assert isinstance(event, dict) and "type" in event, raw
        if event["type"] == "error":
            assert event["code"] in KNOWN_CODES, event
    assert close_code is None or close_code in CLEAN_CLOSES, f"unclean close {close_code}"


async def _exchange(url: str, messages: list[Any]) -> None:
    answers: list[Any] = []
    code: int | None = None
    try:
        ws = await websockets.connect(url, open_timeout=10, max_size=None, close_timeout=5)
    except websockets.InvalidStatus as exc:  # no route for that path: the handshake is refused, not crashed
        assert exc.response.status_code in (403, 404), exc
        return
    async with ws:
        try:
            for message in messages:
                await ws.send(message)
            async with asyncio.timeout(0.5):
                async for raw in ws:
                    answers.append(raw)
                    if len(answers) >= len(messages) + 4:
                        break
        except TimeoutError:
            pass
        except websockets.ConnectionClosed:
            pass
        code = ws.close_code
    _check_answers(answers, code)


FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])


@FUZZ
@given(call_id=call_ids, messages=audio_messages)
def test_audio_socket_survives_garbage(server: LiveServer, call_id: str, messages: list[Any]) -> None:
    asyncio.run(_exchange(f"{server.url}/ws/calls/{quote(call_id, safe='')}/audio",
                          [*messages, json.dumps({"type": "stop"})]))


@settings(FUZZ, max_examples=60)
@given(events=st.lists(twilio_events.map(json.dumps) | binary_frames | st.text(max_size=50), min_size=1, max_size=6))
def test_twilio_socket_survives_garbage(server: LiveServer, events: list[Any]) -> None:
    asyncio.run(_exchange(f"{server.url}/twilio/media", events))


@settings(FUZZ, max_examples=30)
@given(call_id=call_ids, after=st.text(max_size=12) | st.integers(-5, 2**70).map(str))
def test_events_socket_survives_garbage(server: LiveServer, call_id: str, after: str) -> None:
    asyncio.run(_exchange(f"{server.url}/ws/calls/{quote(call_id, safe='')}/events?after_seq={quote(after)}",
                          ["hello", b"\x00"]))


def test_nothing_leaks_after_the_fuzzing(server: LiveServer) -> None:
    """Runs last in this module: every fuzzed call has ended and no worker thread outlived its socket."""
    manager = server.app.state.calls
    wait_until(lambda: manager.active == 0 and not manager.sessions, 15, "every fuzzed call to end")
    calls = server.services.call_store.list_calls(limit=500)
    store = server.services.call_store
    opened = sum(e["type"] == "call_started" for c in calls for e in store.events_after(c.id, 0))
    assert opened >= 10, "the fuzzing should have opened (and reopened) calls"
    assert all(c.state == "ended" for c in calls), [c for c in calls if c.state != "ended"]
    threads = [t for t in threading.enumerate() if t.ident not in server.threads_before]  # type: ignore[attr-defined]
    names = sorted(t.name for t in threads)
    assert sum(n == "call-store-writer" for n in names) == 1, names
    assert sum(n == "worker-heartbeat" for n in names) == 1, names
    pools = [n for n in names if n.startswith(("ThreadPoolExecutor", "asyncio_", "uvloop_", "assist-model"))]
    assert len(names) - len(pools) <= 3, names  # this server's uvicorn thread, store writer and heartbeat
