"""REST for admins: list, create and revoke API keys (the same operations as ``assist keys``)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from assist.auth import AuthError, Role
from assist.notices import announce_revocation


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    name: str = Field("", max_length=100)


router = APIRouter(prefix="/api/keys", tags=["keys"])


@router.get("", summary="API keys (ids, roles, state; never the keys)")
async def list_keys(request: Request) -> dict[str, Any]:
    rows = await asyncio.to_thread(request.app.state.auth.keys.list)
    return {"keys": [r.to_dict() for r in rows]}


@router.post("", status_code=201, summary="Create a key; the response is the only time it is shown")
async def create_key(request: Request, body: KeyCreate) -> dict[str, Any]:
    record, key = await asyncio.to_thread(request.app.state.auth.keys.create, body.role, body.name)
    return {**record.to_dict(), "key": key}


@router.delete("/{key_id}", summary="Revoke a key; its open websockets are closed (`key_revoked`, 1008)")
async def revoke_key(request: Request, key_id: str = Path(pattern=r"^[A-Za-z0-9]{1,32}$")) -> dict[str, Any]:
    auth = request.app.state.auth
    if not await asyncio.to_thread(auth.keys.revoke, key_id):
        raise AuthError(404, "unknown_key", f"no active key {key_id!r}")
    closed = auth.sockets.close_key(key_id)
    await announce_revocation(request.app, key_id)  # the other workers close theirs
    return {"id": key_id, "revoked": True, "closed_sockets": closed}
