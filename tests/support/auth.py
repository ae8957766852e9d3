"""A real server in ``keys`` mode with one key per role, for the auth / fuzz / security tests."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websockets

from assist.auth import ROLES, KeyStore
from assist.services import Services
from config import Settings
from support.live import LiveServer, fake_stages

AUTH_CODES = {"unauthorized", "invalid_key", "forbidden", "no_policy"}


@dataclass
class KeyedServer:
    srv: LiveServer
    keys: dict[str, str]  # role -> plaintext key ("agent2": a second agent)
    key_ids: dict[str, str]
    revoked: str

    @property
    def http(self) -> str:
        return self.srv.http

    @property
    def url(self) -> str:
        return self.srv.url

    def headers(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"} if role else {}


def keyed_settings(home: Path, **sections: Any) -> Settings:
    server = {"preload_models": False, **sections.pop("server", {})}
    return Settings(home=home, auth={"mode": "keys", **sections.pop("auth", {})}, server=server, **sections)


def start_keyed(home: Path, scripts: dict[str, list[str]] | None = None, **sections: Any) -> KeyedServer:
    settings = keyed_settings(home, **sections)
    store = KeyStore(settings.db_path)
    keys, ids = {}, {}
    for role in (*ROLES, "agent2"):
        record, key = store.create("agent" if role == "agent2" else role, name=f"test-{role}")  # type: ignore[arg-type]
        keys[role], ids[role] = key, record.id
    record, revoked = store.create("admin", name="revoked")
    store.revoke(record.id)
    store.close()
    services = Services(settings, stages=fake_stages(scripts or {}, {}))
    srv = LiveServer(settings, services).__enter__()
    return KeyedServer(srv, keys, ids, revoked)


async def ws_outcome(url: str, *, headers: dict[str, str] | None = None, subprotocols: list[str] | None = None,
                     first: dict[str, Any] | None = None, wait_s: float = 0.4) -> tuple[dict[str, Any] | None, int | None]:
    """Connect, optionally send a first message; return (first message or None, close code or None if open)."""
    kwargs: dict[str, Any] = {"additional_headers": headers or {}, "open_timeout": 10, "max_size": None}
    if subprotocols:
        kwargs["subprotocols"] = subprotocols
    async with websockets.connect(url, **kwargs) as ws:
        if first is not None:
            await ws.send(json.dumps(first))
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), wait_s))
        except TimeoutError:
            return None, None
        except websockets.ConnectionClosed as exc:
            return None, exc.rcvd.code if exc.rcvd else None
        try:
            await asyncio.wait_for(ws.recv(), wait_s)
        except TimeoutError:
            return message, None
        except websockets.ConnectionClosed as exc:
            return message, exc.rcvd.code if exc.rcvd else None
        return message, None
