"""Twilio streams: X-Twilio-Signature on the handshake, and the keys-mode stream token in customParameters."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from support.auth import KeyedServer, start_keyed
from support.live import LiveServer, fake_stages, recv_all, recv_json
from support.wait import wait_until
from websockets.exceptions import InvalidStatus

from assist.app import create_app
from assist.services import Services
from assist.twilio_auth import twilio_signature
from config import Settings

TOKEN = "twilio-auth-token-for-tests"
SID = "MZ18ad3ab5a668481ce02b83e7395059f0"


def test_signature_matches_twilios_published_example() -> None:
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
              "From": "+14158675309", "To": "+18005551212"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio_signature("12345", url + "&x=1", params) != "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio_signature("54321", url, params) != "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def _start(call_sid: str, params: dict[str, str]) -> str:
    return json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": SID,
                       "start": {"accountSid": "AC123", "streamSid": SID, "callSid": call_sid,
                                 "tracks": ["inbound"], "customParameters": params,
                                 "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})


def _media(chunk: int) -> str:
    return json.dumps({"event": "media", "streamSid": SID,
                       "media": {"track": "inbound", "chunk": str(chunk), "payload": base64.b64encode(
                           b"\xff" * 160).decode()}})


STOP = json.dumps({"event": "stop", "streamSid": SID})
CONNECTED = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


async def _stream(url: str, call_sid: str, params: dict[str, str], headers: dict[str, str] | None = None,
                  ) -> list[dict[str, Any]]:
    """A short Twilio stream (connected, start, media, stop); every message the server sent before closing."""
    async with websockets.connect(url, additional_headers=headers or {}, open_timeout=10) as ws:
        await ws.send(CONNECTED)
        await ws.send(_start(call_sid, params))
        for chunk in range(5):
            await ws.send(_media(chunk))
        await ws.send(STOP)
        return await recv_all(ws)


def _wait_for_call(srv: LiveServer, call_id: str) -> Any:
    def ended() -> Any:
        row = srv.services.call_store.get_call(call_id)
        return row if row is not None and row.state != "live" else None

    return wait_until(ended, 10, f"call {call_id} to be stored as ended")


# ---------------------------------------------------------------- signature (open mode, real server)


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(home=tmp_path_factory.mktemp("twilio-signed"), server={"preload_models": False},
                        auth={"mode": "open"}, twilio={"auth_token": TOKEN})
    srv = LiveServer(settings, Services(settings, stages=fake_stages())).__enter__()
    yield srv
    srv.__exit__(None, None, None)


async def _refusal(url: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(url, additional_headers=headers, open_timeout=10):
            pass
    response = refused.value.response
    return response.status_code, json.loads(response.body)["error"]


async def test_handshake_without_or_with_a_wrong_signature_is_refused(signed: LiveServer) -> None:
    url = f"{signed.url}/twilio/media"
    status, error = await _refusal(url, {})
    assert status == 403 and error["code"] == "bad_signature"
    forged = twilio_signature("not-the-token", f"wss://127.0.0.1:{signed.port}/twilio/media")
    status, error = await _refusal(url, {"X-Twilio-Signature": forged})
    assert status == 403 and error["code"] == "bad_signature"
    other_path = twilio_signature(TOKEN, f"wss://127.0.0.1:{signed.port}/ws/events")
    status, _ = await _refusal(url, {"X-Twilio-Signature": other_path})
    assert status == 403, "a signature is bound to the URL it was made for"


async def test_valid_signature_streams_a_call(signed: LiveServer) -> None:
    signature = twilio_signature(TOKEN, f"wss://127.0.0.1:{signed.port}/twilio/media")
    got = await _stream(f"{signed.url}/twilio/media", "CA-signed", {"agent": "a-7"},
                        {"X-Twilio-Signature": signature})
    assert not [m for m in got if m.get("type") == "error"], got
    assert _wait_for_call(signed, "CA-signed").source == "twilio"


def test_signature_over_the_configured_stream_url_or_default_port(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, server={"preload_models": False}, auth={"mode": "open"},
                        twilio={"auth_token": TOKEN, "stream_url": "wss://assist.example/twilio/media"},
                        security={"allowed_hosts": ["testserver", "public.example"]})
    with TestClient(create_app(settings, Services(settings, stages=fake_stages()))) as client:
        configured = twilio_signature(TOKEN, "wss://assist.example/twilio/media")
        with client.websocket_connect("/twilio/media", headers={"X-Twilio-Signature": configured}):
            pass
        with_port = twilio_signature(TOKEN, "wss://public.example:443/twilio/media")
        with client.websocket_connect("/twilio/media", headers={"Host": "public.example",
                                                                "X-Twilio-Signature": with_port}):
            pass
        with pytest.raises(WebSocketDenialResponse) as refused:
            with client.websocket_connect("/twilio/media", headers={"X-Twilio-Signature": with_port}):
                pass
        assert refused.value.status_code == 403


# ---------------------------------------------------------------- stream token (keys mode, real server)


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyedServer]:
    server = start_keyed(tmp_path_factory.mktemp("twilio-keys"), auth={"ws_auth_timeout_s": 1.0})
    yield server
    server.srv.__exit__(None, None, None)


async def test_stream_token_in_custom_parameters_authenticates(keyed: KeyedServer) -> None:
    got = await _stream(f"{keyed.url}/twilio/media", "CA-token", {"token": keyed.keys["agent"], "agent": "a-7"})
    assert not [m for m in got if m.get("type") == "error"], got
    row = _wait_for_call(keyed.srv, "CA-token")
    assert row.metadata == {"agent": "a-7", "owner": keyed.key_ids["agent"]}, "owned by the key; token not stored"


async def test_header_key_still_works_for_twilio_route(keyed: KeyedServer) -> None:
    got = await _stream(f"{keyed.url}/twilio/media", "CA-header", {}, keyed.headers("agent"))
    assert not [m for m in got if m.get("type") == "error"], got
    assert _wait_for_call(keyed.srv, "CA-header").metadata["owner"] == keyed.key_ids["agent"]


async def _refused_stream(url: str, messages: list[str]) -> tuple[dict[str, Any], int | None]:
    async with websockets.connect(url, open_timeout=10) as ws:
        for message in messages:
            await ws.send(message)
        error = await recv_json(ws)
        with pytest.raises(websockets.ConnectionClosed):
            await recv_json(ws, timeout=5)
        return error, ws.close_code


@pytest.mark.parametrize(("params", "code"), [
    ({}, "unauthorized"),
    ({"token": "aa_deadbeef_notarealsecretatall0000"}, "invalid_key"),
    ({"token": "revoked"}, "invalid_key"),
    ({"token": "knowledge-manager"}, "forbidden"),
    ({"token": "supervisor"}, "forbidden"),
])
async def test_stream_without_a_valid_agent_token_is_refused(keyed: KeyedServer, params: dict[str, str],
                                                             code: str) -> None:
    token = params.get("token")
    if token == "revoked":
        params = {"token": keyed.revoked}
    elif token in keyed.keys:
        params = {"token": keyed.keys[token]}
    call_sid = f"CA-refused-{code}-{len(params)}"
    error, close = await _refused_stream(f"{keyed.url}/twilio/media", [CONNECTED, _start(call_sid, params)])
    assert error["type"] == "error" and error["code"] == code and error["fatal"]
    assert close == 1008
    # no wait needed: a call is created (synchronously, in the socket's handler) before any refusal is sent
    assert keyed.srv.services.call_store.get_call(call_sid) is None


async def test_stream_that_never_starts_or_speaks_another_protocol_is_refused(keyed: KeyedServer) -> None:
    started = time.monotonic()
    error, close = await _refused_stream(f"{keyed.url}/twilio/media", [CONNECTED])
    assert error["code"] == "unauthorized" and close == 1008
    assert time.monotonic() - started < 5, "the wait for start is bounded by auth.ws_auth_timeout_s"
    error, close = await _refused_stream(f"{keyed.url}/twilio/media", [_media(0)])
    assert error["code"] == "unauthorized" and close == 1008
    error, close = await _refused_stream(f"{keyed.url}/twilio/media", ["[" * 5000])
    assert error["code"] == "unauthorized" and close == 1008
