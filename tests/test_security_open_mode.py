"""Open mode on a laptop: loopback Host only (DNS rebinding), same-origin Origin for websockets and writes.

The HTTP and websocket cases run against the real server (uvicorn, fake models): a rebinding attack is a
request to 127.0.0.1 that carries the attacker's name in ``Host``, which is what ``websockets.connect(...,
host=, port=)`` and an explicit ``Host`` header reproduce.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from support.auth import keyed_settings
from support.live import LiveServer, fake_stages
from websockets.exceptions import InvalidStatus

from assist.app import create_app
from assist.auth import KeyStore
from assist.origin_guard import host_allowed, same_origin, split_host
from assist.services import Services
from config import Settings

EVIL = "http://evil.example"
AUDIO = "/ws/calls/c1/audio"  # TestClient cases use a socket that reads, so leaving it is a clean disconnect


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "LOCALHOST:8000", "localhost.", "127.0.0.1",
                                  "127.0.0.1:8000", "127.8.9.10:1", "[::1]", "[::1]:8000"])
def test_loopback_hosts_are_allowed(host: str) -> None:
    assert host_allowed(host)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example",
                                  "localhost.evil.example", "0.0.0.0:8000", "192.168.1.10:8000", "::1",
                                  "[::1]x", "[::1", "localhost:80a", "localhost:123456", "", ":8000"])
def test_other_hosts_are_refused(host: str) -> None:
    assert not host_allowed(host)


def test_operator_listed_hosts_are_allowed() -> None:
    assert host_allowed("demo.tunnel.example:443", ["Demo.Tunnel.Example"])
    assert not host_allowed("other.tunnel.example", ["demo.tunnel.example"])
    assert split_host("[::1]:8000") == ("::1", 8000) and split_host("Localhost") == ("localhost", None)


@pytest.mark.parametrize(("origin", "host", "same"), [
    ("http://localhost:8000", "localhost:8000", True),
    ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
    ("http://[::1]:8000", "[::1]:8000", True),
    ("https://assist.example", "assist.example", True),  # TLS ends at a proxy that keeps Host
    ("https://assist.example:443", "assist.example", True),
    ("http://localhost:8001", "localhost:8000", False),
    ("http://localhost", "localhost:8000", False),
    ("https://assist.example:8443", "assist.example", False),
    ("http://evil.example:8000", "localhost:8000", False),
    ("null", "localhost:8000", False),
    ("http://localhost:99999", "localhost:8000", False),
])
def test_same_origin(origin: str, host: str, same: bool) -> None:
    assert same_origin(origin, host) is same


# ---------------------------------------------------------------- the real server, open mode


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("open-mode")
    settings = Settings(home=home, server={"preload_models": False}, auth={"mode": "open"},
                        security={"allowed_hosts": []})
    srv = LiveServer(settings, Services(settings, stages=fake_stages())).__enter__()
    yield srv
    srv.__exit__(None, None, None)


def _key_names(srv: LiveServer) -> list[str]:
    return [k.name for k in srv.app.state.auth.keys.list()]


def _error(response: Any) -> dict[str, Any]:
    """The error object of an HTTP response or a websocket denial response (both have ``.json()``)."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) >= {"code", "message"}
    return body["error"]


def test_rebinding_host_is_refused_for_api_keys(server: LiveServer) -> None:
    with httpx.Client(base_url=server.http, timeout=10) as client:
        r = client.post("/api/keys", json={"role": "admin", "name": "rebound"},
                        headers={"Host": f"evil.example:{server.port}"})
        assert r.status_code == 421 and _error(r)["code"] == "bad_host"
        r = client.get("/api/calls", headers={"Host": "evil.example"})
        assert r.status_code == 421 and _error(r)["code"] == "bad_host"
        r = client.get("/", headers={"Host": "evil.example"})
        assert r.status_code == 421, "the widget page is not served to a rebound name either"
    assert "rebound" not in _key_names(server)


def test_foreign_origin_is_refused_for_writes(server: LiveServer) -> None:
    with httpx.Client(base_url=server.http, timeout=10) as client:
        r = client.post("/api/keys", json={"role": "admin", "name": "csrf"}, headers={"Origin": EVIL})
        assert r.status_code == 403 and _error(r)["code"] == "bad_origin"
        r = client.post("/api/keys", json={"role": "admin", "name": "csrf-null"}, headers={"Origin": "null"})
        assert r.status_code == 403
        r = client.delete("/api/keys/abc", headers={"Origin": EVIL})
        assert r.status_code == 403 and _error(r)["code"] == "bad_origin"
        r = client.get("/api/calls", headers={"Origin": EVIL})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers, \
            "reads pass, but without CORS headers the page cannot read them"
    assert not {"csrf", "csrf-null"} & set(_key_names(server))


def test_loopback_clients_without_or_with_own_origin_may_write(server: LiveServer) -> None:
    with httpx.Client(base_url=server.http, timeout=10) as client:
        r = client.post("/api/keys", json={"role": "agent", "name": "from-cli"})
        assert r.status_code == 201, r.text
        r = client.post("/api/keys", json={"role": "agent", "name": "from-widget"},
                        headers={"Origin": server.http})
        assert r.status_code == 201, r.text
        r = client.post("/api/keys", json={"role": "agent", "name": "via-localhost"},
                        headers={"Host": f"localhost:{server.port}", "Origin": f"http://localhost:{server.port}"})
        assert r.status_code == 201, r.text
    assert {"from-cli", "from-widget", "via-localhost"} <= set(_key_names(server))


async def _ws_status(url: str, **kwargs: Any) -> tuple[int, dict[str, Any] | None]:
    """101 when the handshake succeeds, else the refusal's HTTP status and JSON error."""
    try:
        async with websockets.connect(url, open_timeout=10, **kwargs):
            return 101, None
    except InvalidStatus as exc:
        return exc.response.status_code, json.loads(exc.response.body or b"{}").get("error")


async def test_rebinding_host_is_refused_for_supervisor_socket(server: LiveServer) -> None:
    status, error = await _ws_status(f"ws://evil.example:{server.port}/ws/events", host="127.0.0.1",
                                     port=server.port)
    assert status == 421 and error is not None and error["code"] == "bad_host"
    status, error = await _ws_status(f"ws://evil.example:{server.port}/ws/calls/c1/events?wait=1",
                                     host="127.0.0.1", port=server.port)
    assert status == 421


async def test_cross_site_websocket_is_refused(server: LiveServer) -> None:
    for path in ("/ws/events", "/ws/calls/c1/events?wait=1", "/ws/calls/c1/audio", "/twilio/media"):
        status, error = await _ws_status(f"{server.url}{path}", origin=EVIL)
        assert status == 403 and error is not None and error["code"] == "bad_origin", path
    status, _ = await _ws_status(f"{server.url}/ws/events", origin="null")
    assert status == 403


async def test_same_origin_or_no_origin_websocket_is_served(server: LiveServer) -> None:
    assert (await _ws_status(f"{server.url}/ws/events"))[0] == 101
    assert (await _ws_status(f"{server.url}/ws/events", origin=server.http))[0] == 101
    status, _ = await _ws_status(f"ws://localhost:{server.port}/ws/events", host="127.0.0.1", port=server.port,
                                 origin=f"http://localhost:{server.port}")
    assert status == 101


def test_listed_hosts_and_origins_are_served_in_open_mode(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, server={"preload_models": False}, auth={"mode": "open"},
                        security={"allowed_hosts": ["demo.tunnel.example"], "cors_origins": ["https://crm.example"]})
    with TestClient(create_app(settings, Services(settings, stages=fake_stages())),
                    base_url="https://demo.tunnel.example") as client:
        assert client.get("/api/calls").status_code == 200
        r = client.post("/api/calls/c1/feedback", json={"article_id": "a", "action": "clicked"},
                        headers={"Origin": "https://crm.example"})
        assert r.status_code != 403, r.text
        tunnel = {"Host": "demo.tunnel.example"}  # websocket_connect always builds ws://testserver
        with client.websocket_connect(AUDIO, headers={**tunnel, "Origin": "https://crm.example"}):
            pass
        with client.websocket_connect(AUDIO, headers={**tunnel, "Origin": "https://demo.tunnel.example"}):
            pass
        with pytest.raises(WebSocketDenialResponse) as refused:
            with client.websocket_connect(AUDIO, headers={**tunnel, "Origin": EVIL}):
                pass
        assert refused.value.status_code == 403 and _error(refused.value)["code"] == "bad_origin"
        assert client.get("/api/calls", headers={"Host": "other.example"}).status_code == 421


# ---------------------------------------------------------------- keys mode: Origin only


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    settings = keyed_settings(tmp_path, security={"cors_origins": ["https://crm.example"]})
    store = KeyStore(settings.db_path)
    _, key = store.create("admin")
    store.close()
    with TestClient(create_app(settings, Services(settings, stages=fake_stages()))) as client:
        yield client, key


def test_keys_mode_checks_origin_not_host(keyed: tuple[TestClient, str]) -> None:
    client, key = keyed
    auth = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/keys", headers={**auth, "Host": "assist.example"}).status_code == 200, \
        "keys mode serves any Host: a rebound page has no key"
    r = client.post("/api/keys", json={"role": "agent"}, headers={**auth, "Origin": EVIL})
    assert r.status_code == 403 and _error(r)["code"] == "bad_origin"
    r = client.post("/api/keys", json={"role": "agent"}, headers={**auth, "Origin": "https://crm.example"})
    assert r.status_code == 201
    with pytest.raises(WebSocketDenialResponse) as refused:
        with client.websocket_connect(AUDIO, headers={**auth, "Origin": EVIL}):
            pass
    assert refused.value.status_code == 403
    with client.websocket_connect(AUDIO, headers={**auth, "Origin": "http://testserver"}):
        pass
    with client.websocket_connect(AUDIO, headers={**auth, "Origin": "https://crm.example"}):
        pass
