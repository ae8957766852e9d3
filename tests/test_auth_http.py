"""Security headers on the widget and the API, CORS (same-origin by default), request body limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.auth import keyed_settings
from support.live import fake_stages

from assist.app import create_app
from assist.auth import KeyStore
from assist.security import MessageRate, SocketGuard
from assist.services import Services


def _client(home: Path, **sections: object) -> tuple[TestClient, str]:
    settings = keyed_settings(home, **sections)
    store = KeyStore(settings.db_path)
    _, key = store.create("admin")
    store.close()
    client = TestClient(create_app(settings, Services(settings, stages=fake_stages())))
    return client, key


@pytest.fixture
def default_client(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    client, key = _client(tmp_path, server={"max_json_bytes": 2048})
    with client:
        yield client, key


def test_widget_and_api_carry_security_headers(default_client: tuple[TestClient, str]) -> None:
    client, key = default_client
    for response in (client.get("/"), client.get("/api/calls", headers={"Authorization": f"Bearer {key}"}),
                     client.get("/api/calls")):
        h = response.headers
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"
        csp = h["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "connect-src 'self' ws://testserver wss://testserver" in csp
    assert client.get("/").status_code == 200, "the widget itself is public: it shows the login field"


def test_cors_is_same_origin_by_default(default_client: tuple[TestClient, str]) -> None:
    client, key = default_client
    r = client.get("/api/calls", headers={"Origin": "https://evil.example", "Authorization": f"Bearer {key}"})
    assert "access-control-allow-origin" not in r.headers
    pre = client.options("/api/calls", headers={"Origin": "https://evil.example",
                                                "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in pre.headers


def test_cors_allows_configured_origins_only(tmp_path: Path) -> None:
    client, key = _client(tmp_path, security={"cors_origins": ["https://crm.example"]})
    with client:
        ok = client.options("/api/calls", headers={"Origin": "https://crm.example",
                                                   "Access-Control-Request-Method": "GET",
                                                   "Access-Control-Request-Headers": "authorization"})
        bad = client.get("/api/calls", headers={"Origin": "https://evil.example", "Authorization": f"Bearer {key}"})
    assert ok.headers["access-control-allow-origin"] == "https://crm.example"
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in bad.headers


def test_oversized_bodies_get_413_before_auth_or_parsing(default_client: tuple[TestClient, str]) -> None:
    client, key = default_client
    auth = {"Authorization": f"Bearer {key}"}
    big = {"article_id": "x" * 5000, "action": "clicked"}
    r = client.post("/api/calls/c1/feedback", json=big, headers=auth)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(10):
            yield b"x" * 1000

    r = client.post("/api/calls/c1/feedback", content=chunks(), headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 413
    small = client.post("/api/calls/c1/feedback", json={"article_id": "a", "action": "clicked"}, headers=auth)
    assert small.status_code == 404 and small.json()["error"]["code"] == "unknown_call"


def test_message_rate_and_call_length_limits() -> None:
    now = [0.0]
    rate = MessageRate(10, 5, clock=lambda: now[0])
    assert [rate.allow() for _ in range(6)] == [True] * 5 + [False]
    now[0] += 0.5
    assert sum(rate.allow() for _ in range(10)) == 5
    guard = SocketGuard(keyed_settings(Path("/tmp")).security.model_copy(update={"max_call_s": 60}),
                        clock=lambda: now[0])
    guard.start()
    guard.add_audio(16000 * 61)
    now[0] += 100
    assert guard.check() == ("call_too_long", "calls are limited to 60 s")
