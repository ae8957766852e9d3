"""Key store, ``assist keys`` CLI, websocket authentication variants and the open-mode guard."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from support.auth import KeyedServer, start_keyed, ws_outcome
from support.postgres import StoreTarget

from assist import cli
from assist.auth import KeyStore, OpenModeRefused, check_mode, split_key
from config import Settings


def test_keys_are_stored_hashed_with_a_salt(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.db")
    first, key1 = store.create("agent", "a")
    second, key2 = store.create("agent", "b")
    assert split_key(key1) is not None and key1 != key2
    assert store.verify(key1).key_id == first.id and store.verify(key2).role == "agent"
    rows = sqlite3.connect(tmp_path / "keys.db").execute("SELECT salt, hash FROM api_keys").fetchall()
    assert rows[0][0] != rows[1][0], "each key has its own salt"
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for key in (key1, key2):
        assert split_key(key)[1].encode() not in raw, "the secret must never be stored"


def test_revoked_and_malformed_keys_do_not_verify(store_target: StoreTarget) -> None:
    store = KeyStore(store_target("keys.db"))
    record, key = store.create("admin")
    assert store.revoke(record.id) and not store.revoke(record.id)
    assert store.verify(key) is None
    for bad in ("", "aa_", "aa_x_short", "Bearer x", "aa_" + "a" * 300, key.replace("aa_", "bb_")):
        assert store.verify(bad) is None
    with pytest.raises(ValueError):
        store.create("root")  # type: ignore[arg-type]


def test_keys_cli_create_list_revoke(tmp_path: Path, store_target: StoreTarget, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ASSIST_HOME", str(tmp_path))
    target = store_target("assist.db")
    if isinstance(target, str):
        monkeypatch.setenv("ASSIST_DATABASE_URL", target)
    assert cli.main(["keys", "create", "--role", "supervisor", "--name", "floor-1", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["role"] == "supervisor" and created["key"].startswith("aa_")
    assert cli.main(["keys", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(k["id"], k["active"], k["name"]) for k in listed] == [(created["id"], True, "floor-1")]
    assert "key" not in listed[0] and created["key"] not in json.dumps(listed)
    assert cli.main(["keys", "revoke", created["id"]]) == 0
    assert cli.main(["keys", "revoke", created["id"]]) == 1
    assert "unknown_key" in capsys.readouterr().err
    assert cli.main(["keys", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    store = KeyStore(target)
    assert store.verify(created["key"]) is None


@pytest.mark.parametrize("host, allow, ok", [("127.0.0.1", False, True), ("::1", False, True),
                                             ("localhost", False, True), ("0.0.0.0", False, False),
                                             ("192.168.1.5", False, False), ("0.0.0.0", True, True)])
def test_open_mode_only_on_loopback(tmp_path: Path, host: str, allow: bool, ok: bool) -> None:
    settings = Settings(home=tmp_path, auth={"mode": "open", "allow_open_remote": allow}, server={"host": host})
    if ok:
        check_mode(settings)
    else:
        with pytest.raises(OpenModeRefused):
            check_mode(settings)
    check_mode(Settings(home=tmp_path, auth={"mode": "keys"}, server={"host": host}))


def test_serve_refuses_open_mode_on_all_interfaces(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ASSIST_HOME", str(tmp_path))
    monkeypatch.setenv("ASSIST_AUTH__MODE", "open")
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert "open_mode_refused" in capsys.readouterr().err


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyedServer]:
    keyed = start_keyed(tmp_path_factory.mktemp("wsauth"), auth={"ws_auth_timeout_s": 0.5})
    yield keyed
    keyed.srv.__exit__(None, None, None)


async def test_ws_subprotocol_auth_is_echoed(server: KeyedServer) -> None:
    async with websockets.connect(f"{server.url}/ws/calls/sp-1/audio",
                                  subprotocols=["bearer", server.keys["agent"]], open_timeout=10) as ws:
        assert ws.subprotocol == "bearer"
        await ws.send(json.dumps({"type": "stop"}))
        reply = json.loads(await ws.recv())
    assert reply["code"] == "not_started", "authenticated: the handler itself answers"


async def test_ws_first_message_auth(server: KeyedServer) -> None:
    url = f"{server.url}/ws/calls/fm-1/audio"
    async with websockets.connect(url, open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "auth", "token": server.keys["agent"]}))
        await ws.send(json.dumps({"type": "stop"}))
        assert json.loads(await ws.recv())["code"] == "not_started"
    message, code = await ws_outcome(url, first={"type": "auth", "token": server.keys["supervisor"]})
    assert message["code"] == "forbidden" and code == 1008
    message, code = await ws_outcome(url, first={"type": "auth", "token": server.revoked})
    assert message["code"] == "invalid_key" and code == 1008


async def test_ws_without_auth_times_out_cleanly(server: KeyedServer) -> None:
    message, code = await ws_outcome(f"{server.url}/ws/events", wait_s=3)
    assert message["code"] == "unauthorized" and "within" in message["message"] and code == 1008


async def test_call_owner_is_the_streaming_key(server: KeyedServer) -> None:
    url = f"{server.url}/ws/calls/owned-2/audio"
    headers = server.headers("agent")
    async with websockets.connect(url, additional_headers=headers, open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "start", "encoding": "pcm16", "sample_rate": 16000, "leg": "customer",
                                  "metadata": {"owner": "someone-else", "queue": "cards"}}))
        await ws.send(b"\x00\x00" * 1600)
        await ws.send(json.dumps({"type": "stop"}))
        async for _ in ws:
            pass
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as client:
        detail = (await client.get("/api/calls/owned-2", headers=headers)).json()
    assert detail.get("metadata") == {"owner": server.key_ids["agent"], "queue": "cards"}, detail


async def test_whole_call_in_keys_mode_with_replay(server: KeyedServer) -> None:
    from support.live import silence

    from assist.replay import replay_call

    events = await replay_call(server.url, "keyed-call", {"customer": silence(0.6)}, realtime=False, timeout_s=20,
                               api_key=server.keys["agent"])
    assert [e["type"] for e in events][-2:] == ["call_ended", "summary"]
    refused = await replay_call(server.url, "keyed-call-2", {"customer": silence(0.6)}, realtime=False, timeout_s=10,
                                api_key=server.keys["knowledge-manager"])
    assert any(e.get("code") == "forbidden" for e in refused)
