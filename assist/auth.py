"""API keys, roles and the one FastAPI dependency that enforces them on every route and websocket.

Keys are ``aa_<id>_<secret>``; the store keeps only the id, a random per-key salt and
HMAC-SHA256(salt, secret), so a leaked database does not leak usable keys. Every route's required
permission is looked up in ``POLICY`` by its method and path template: a route that is not listed is
refused (fail closed), and ``tests/test_auth_routes.py`` fails for it, so no endpoint ships unguarded.

Websockets cannot carry custom headers from a browser, so they authenticate with (in order) an
``Authorization: Bearer`` header, the ``Sec-WebSocket-Protocol: bearer, <key>`` pair, or a first JSON
message ``{"type": "auth", "token": "<key>"}``. Query-string tokens are not accepted: they end up in
access logs. ``mode = "open"`` skips all of this for local demos and is refused on non-loopback hosts.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request, WebSocketException
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from assist.events import ErrorEvent
from assist.sockets import SocketRegistry
from common.db import open_store
from common.errors import CodedError
from common.jsonsafe import safe_json_loads
from config import Settings

log = logging.getLogger(__name__)

Role = Literal["agent", "supervisor", "knowledge-manager", "admin"]
ROLES: tuple[Role, ...] = ("agent", "supervisor", "knowledge-manager", "admin")
Scope = Literal["all", "own"]

KEY_PREFIX = "aa_"
SUBPROTOCOL = "bearer"
POLICY_CLOSE = 1008

# permission -> role -> scope. "own" limits an agent to the calls it streamed itself.
GRANTS: dict[str, dict[Role, Scope]] = {
    "public": {r: "all" for r in ROLES},
    "kb:read": {"agent": "all", "supervisor": "all", "knowledge-manager": "all", "admin": "all"},
    "kb:write": {"knowledge-manager": "all", "admin": "all"},
    "calls:read": {"agent": "own", "supervisor": "all", "admin": "all"},
    "calls:write": {"agent": "own", "admin": "all"},
    "calls:stream": {"agent": "own", "admin": "all"},
    "calls:subscribe": {"agent": "own", "supervisor": "all", "admin": "all"},
    "calls:watch": {"supervisor": "all", "admin": "all"},
    "ops:metrics": {"supervisor": "all", "admin": "all"},
    "calls:qa": {"supervisor": "all", "admin": "all"},  # every call's QA metrics (CSV), no transcripts
    "kb:gaps": {"knowledge-manager": "all", "admin": "all"},  # customer requests the KB failed (masked text)
    "keys:manage": {"admin": "all"},
}

# "METHOD path-template" (websockets: "WS path") -> permission. Every API route must be listed.
POLICY: dict[str, str] = {
    "GET /healthz": "public",
    "GET /readyz": "public",
    "GET /supervisor": "public",  # the console page only: its data needs calls:watch (a supervisor key)
    "GET /metrics": "ops:metrics",
    "GET /api/calls": "calls:read",
    "GET /api/calls/{call_id}": "calls:read",
    "PATCH /api/calls/{call_id}/summary": "calls:write",
    "POST /api/calls/{call_id}/feedback": "calls:write",
    "WS /ws/calls/{call_id}/audio": "calls:stream",
    "WS /ws/calls/{call_id}/events": "calls:subscribe",
    "WS /ws/events": "calls:watch",
    "GET /api/supervisor/recent": "calls:watch",
    "WS /twilio/media": "calls:stream",
    "GET /api/kb/articles": "kb:read",
    "GET /api/kb/articles/{article_id}": "kb:read",
    "GET /api/kb/articles/{article_id}/history": "kb:read",
    "GET /api/kb/search": "kb:read",
    "GET /api/kb/export": "kb:read",
    "POST /api/kb/articles": "kb:write",
    "PUT /api/kb/articles/{article_id}": "kb:write",
    "DELETE /api/kb/articles/{article_id}": "kb:write",
    "POST /api/kb/import": "kb:write",
    "GET /api/kb/gaps": "kb:gaps",
    "GET /api/qa": "calls:qa",
    "GET /api/keys": "keys:manage",
    "POST /api/keys": "keys:manage",
    "DELETE /api/keys/{key_id}": "keys:manage",
}

# Routes whose own protocol carries the key: Twilio sends neither a header nor our auth message, only the start
# event's customParameters (assist/twilio_auth.py). Without a header key, ``authorize`` leaves the principal
# PENDING there and the route must call ``resolve_deferred`` before it acts; ``principal_of`` refuses until then.
DEFERRED = frozenset({"WS /twilio/media"})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. ``key_id`` is ``None`` in open mode."""

    key_id: str | None
    role: Role
    name: str = ""

    def scope(self, permission: str) -> Scope | None:
        return GRANTS.get(permission, {}).get(self.role)

    def owner_filter(self, permission: str) -> str | None:
        """The key id to restrict a listing to, or ``None`` when the principal sees everything."""
        return self.key_id if self.scope(permission) == "own" else None

    def may(self, permission: str, owner: str | None) -> bool:
        """Whether ``permission`` covers a call owned by ``owner`` (a key id; ``None``: made in open mode)."""
        scope = self.scope(permission)
        return scope == "all" or (scope == "own" and self.key_id is not None and owner == self.key_id)


OPEN_PRINCIPAL = Principal(key_id=None, role="admin", name="open-mode")
PENDING = Principal(key_id=None, role="agent", name="pending")


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    name: str
    role: Role
    created: float
    revoked: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role, "created": self.created,
                "revoked": self.revoked, "active": self.revoked is None}


class AuthError(CodedError):
    """401/403 with the project's error shape; websockets turn it into an error event + close 1008."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.status = status


KEYS_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL,
    salt TEXT NOT NULL,
    hash TEXT NOT NULL,
    created REAL NOT NULL,
    revoked REAL
);
"""


def _digest(salt: bytes, secret: str) -> str:
    return hmac.new(salt, secret.encode("utf-8"), hashlib.sha256).hexdigest()


def split_key(token: str) -> tuple[str, str] | None:
    """``aa_<id>_<secret>`` -> (id, secret); ``None`` for anything else."""
    if not token.startswith(KEY_PREFIX) or len(token) > 200:
        return None
    key_id, sep, secret = token[len(KEY_PREFIX):].partition("_")
    if not sep or not key_id.isalnum() or len(secret) < 16:
        return None
    return key_id, secret


class KeyStore:
    """API keys in the service's database, SQLite or PostgreSQL (own connection; thread-safe, synchronous)."""

    def __init__(self, path: Path | str) -> None:
        self._db = open_store(path, "keys", (KEYS_SCHEMA,))  # SQLite: 0600 file, 0700 folder

    def create(self, role: Role, name: str = "") -> tuple[KeyRecord, str]:
        """A new key; the plaintext is returned once and never stored."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        key_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        record = KeyRecord(id=key_id, name=name, role=role, created=time.time(), revoked=None)
        with self._db.transaction() as db:
            db.execute("INSERT INTO api_keys (id, name, role, salt, hash, created) VALUES (?, ?, ?, ?, ?, ?)",
                       (key_id, name, role, salt.hex(), _digest(salt, secret), record.created))
        log.info("api key %s created (role %s)", key_id, role)
        return record, f"{KEY_PREFIX}{key_id}_{secret}"

    def list(self) -> list[KeyRecord]:
        with self._db.locked() as db:
            rows = db.execute("SELECT id, name, role, created, revoked FROM api_keys ORDER BY created").fetchall()
        return [KeyRecord(r["id"], r["name"], r["role"], r["created"], r["revoked"]) for r in rows]

    def revoke(self, key_id: str) -> bool:
        """True if an active key was revoked."""
        with self._db.transaction() as db:
            cur = db.execute("UPDATE api_keys SET revoked=? WHERE id=? AND revoked IS NULL", (time.time(), key_id))
        if cur.rowcount:
            log.info("api key %s revoked", key_id)
        return bool(cur.rowcount)

    def active_count(self) -> int:
        with self._db.locked() as db:
            return int(db.execute("SELECT COUNT(*) FROM api_keys WHERE revoked IS NULL").fetchone()[0])

    def verify(self, token: str) -> Principal | None:
        parts = split_key(token)
        if parts is None:
            return None
        key_id, secret = parts
        with self._db.locked() as db:
            row = db.execute("SELECT name, role, salt, hash FROM api_keys WHERE id=? AND revoked IS NULL",
                             (key_id,)).fetchone()
        if row is None or not hmac.compare_digest(_digest(bytes.fromhex(row["salt"]), secret), row["hash"]):
            return None
        return Principal(key_id=key_id, role=row["role"], name=row["name"])

    def close(self) -> None:
        self._db.close()


# ---------------------------------------------------------------- open mode guard


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class OpenModeRefused(ValueError):
    """Open mode on a reachable interface would expose every call to the network."""


def check_mode(settings: Settings) -> None:
    """Raise ``OpenModeRefused`` for open mode on a non-loopback host without the explicit override."""
    auth = settings.auth
    if auth.mode == "open" and not is_loopback(settings.server.host) and not auth.allow_open_remote:
        raise OpenModeRefused(
            f"auth mode 'open' serves every call without a key; refusing to listen on {settings.server.host}. "
            "Use ASSIST_AUTH__MODE=keys (and `assist keys create`), bind 127.0.0.1, or set "
            "ASSIST_AUTH__ALLOW_OPEN_REMOTE=1 if you really mean it.")


# ---------------------------------------------------------------- the dependency


class Authenticator:
    """Per-app state: the mode and the key store; ``app.state.auth``."""

    def __init__(self, settings: Settings, keys: KeyStore | None = None) -> None:
        self.settings = settings
        self.open = settings.auth.mode == "open"
        self.keys = keys or KeyStore(settings.calls_db)
        self.ws_timeout_s = settings.auth.ws_auth_timeout_s
        self.sockets = SocketRegistry(self._active_ids)  # revoking a key closes its open websockets

    async def verify(self, token: str) -> Principal:
        principal = await asyncio.to_thread(self.keys.verify, token)
        if principal is None:
            raise AuthError(401, "invalid_key", "the API key is unknown or revoked")
        return principal

    def _active_ids(self, key_ids: Iterable[str]) -> set[str]:
        return {r.id for r in self.keys.list() if r.revoked is None} & set(key_ids)

    def close(self) -> None:
        self.sockets.close()
        self.keys.close()


def policy_key(conn: HTTPConnection) -> str:
    route = conn.scope.get("route")
    path = getattr(route, "path", None) or conn.url.path
    method = "WS" if conn.scope["type"] == "websocket" else conn.scope.get("method", "GET")
    return f"{method} {path}"


def _bearer(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "unauthorized", "Authorization must be 'Bearer <key>'")
    return token.strip()


def _subprotocol_token(ws: HTTPConnection) -> str | None:
    offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    if SUBPROTOCOL in offered:
        rest = [p for p in offered if p != SUBPROTOCOL]
        if rest:
            return rest[0]
    return None


async def accept(ws: WebSocket) -> None:
    """Accept once, echoing ``bearer`` when the client offered it (browsers fail the socket otherwise)."""
    if ws.client_state != WebSocketState.CONNECTING:
        return
    offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",")]
    await ws.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)


async def _first_message_token(ws: WebSocket, timeout_s: float) -> str:
    await accept(ws)
    try:
        msg = await asyncio.wait_for(ws.receive(), timeout_s)
    except TimeoutError as exc:
        raise AuthError(401, "unauthorized", f"no auth message within {timeout_s:g} s") from exc
    if msg["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(msg.get("code", 1000))
    text = msg.get("text")
    data: Any = None
    if text is not None and len(text) <= 4096:
        try:
            data = safe_json_loads(text)
        except json.JSONDecodeError as exc:  # the client's bug, not a wrong key: say so
            raise AuthError(401, "bad_json", f"the auth message is not JSON: {exc.msg}") from exc
    if not isinstance(data, dict) or data.get("type") != "auth" or not isinstance(data.get("token"), str):
        raise AuthError(401, "unauthorized",
                        'send {"type": "auth", "token": "<key>"} first, or an Authorization header')
    return data["token"]


async def _authenticate(conn: HTTPConnection, auth: Authenticator) -> Principal:
    token = _bearer(conn)
    if token is None and isinstance(conn, WebSocket):
        token = _subprotocol_token(conn) or await _first_message_token(conn, auth.ws_timeout_s)
    if token is None:
        raise AuthError(401, "unauthorized", "an API key is required: Authorization: Bearer <key>")
    return await auth.verify(token)


async def may_use_call(app: Any, principal: Principal, permission: str, call_id: str) -> bool:
    """False when ``call_id`` is live or stored and ``permission`` does not cover its owner.

    The live session is asked first (its owner is known before any row is read). A call that does not exist
    yet is allowed: whoever opens it owns it, and ``CallManager.join`` and waiting subscriptions check again
    once it exists."""
    if principal.scope(permission) == "all":
        return True
    manager = getattr(app.state, "calls", None)
    session = manager.get(call_id) if manager is not None else None
    if session is not None:
        return principal.may(permission, session.options.metadata.get("owner"))
    row = await asyncio.to_thread(app.state.call_store.get_call, call_id)
    return row is None or principal.may(permission, row.metadata.get("owner"))


async def _check_owner(conn: HTTPConnection, principal: Principal, permission: str) -> None:
    """Agents only touch calls they streamed; the call's ``owner`` is stamped from the key at start."""
    call_id = conn.path_params.get("call_id")
    if call_id is None or principal.scope(permission) != "own":
        return
    if not await may_use_call(conn.app, principal, permission, call_id):
        raise AuthError(403, "forbidden", "this call belongs to another agent")


async def authorize(conn: HTTPConnection) -> Principal:
    """The app-wide dependency: resolve the route's permission, authenticate, check the role."""
    permission = POLICY.get(policy_key(conn))
    auth: Authenticator = conn.app.state.auth
    try:
        if permission is None:
            log.error("no auth policy for %s; refusing", policy_key(conn))
            raise AuthError(403, "no_policy", "this endpoint has no access policy")
        if permission == "public":
            principal = OPEN_PRINCIPAL if auth.open else Principal(key_id=None, role="agent", name="anonymous")
        elif auth.open:
            principal = OPEN_PRINCIPAL
        elif policy_key(conn) in DEFERRED and _bearer(conn) is None and _subprotocol_token(conn) is None:
            principal = PENDING  # the route authenticates from its own messages
        else:
            principal = await _authenticate(conn, auth)
            if principal.scope(permission) is None:
                raise AuthError(403, "forbidden", f"role {principal.role} may not use this endpoint ({permission})")
            await _check_owner(conn, principal, permission)
    except AuthError as err:
        if isinstance(conn, WebSocket):
            await _refuse_socket(conn, err)
        raise
    conn.state.principal = principal
    if isinstance(conn, WebSocket) and principal.key_id is not None:
        auth.sockets.add(principal.key_id, conn)
    return principal


async def _refuse_socket(ws: WebSocket, err: AuthError) -> None:
    await accept(ws)
    event = ErrorEvent.model_validate({"call_id": ws.path_params.get("call_id", "*"), "code": err.code,
                                       "message": err.message, "fatal": True})  # an unknown code fails here
    try:
        await ws.send_text(event.model_dump_json())
    except (RuntimeError, WebSocketDisconnect):
        pass
    raise WebSocketException(POLICY_CLOSE, err.code)


refuse_socket = _refuse_socket  # for routes in DEFERRED: an error event, then close 1008


def is_pending(conn: HTTPConnection) -> bool:
    """A DEFERRED route whose client has not authenticated yet."""
    return getattr(conn.state, "principal", None) is PENDING


async def resolve_deferred(ws: WebSocket, token: str) -> Principal:
    """Finish what ``authorize`` deferred: verify the key, check its role, remember the principal (raises AuthError)."""
    principal = await ws.app.state.auth.verify(token)
    permission = POLICY[policy_key(ws)]
    if principal.scope(permission) is None:
        raise AuthError(403, "forbidden", f"role {principal.role} may not use this endpoint ({permission})")
    ws.state.principal = principal
    ws.app.state.auth.sockets.add(principal.key_id, ws)
    return principal


def principal_of(conn: HTTPConnection) -> Principal:
    """The principal ``authorize`` resolved for this request (open mode: the open principal)."""
    principal = getattr(conn.state, "principal", OPEN_PRINCIPAL)
    if principal is PENDING:  # fail closed: a deferred route forgot to authenticate
        raise AuthError(401, "unauthorized", "this stream has not authenticated yet")
    return principal


async def auth_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def install(app: FastAPI, settings: Settings, keys: KeyStore | None = None) -> Authenticator:
    """Check the mode, attach the key store and the error handler. Call before routes are added."""
    check_mode(settings)
    auth = Authenticator(settings, keys)
    app.state.auth = auth
    app.add_exception_handler(AuthError, auth_error_handler)
    if auth.open:
        log.warning("auth mode OPEN: every endpoint is served without a key (host %s)", settings.server.host)
    elif auth.keys.active_count() == 0:
        log.warning("auth mode keys and no active API key: create one with `assist keys create --role admin`")
    return auth


def roles_for(permission: str) -> Sequence[Role]:
    return tuple(GRANTS.get(permission, {}))

