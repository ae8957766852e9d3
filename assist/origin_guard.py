"""Host and Origin checks: what keeps a web page in the operator's browser away from the service.

Open mode has no credentials, so the browser itself is the attacker's way in. Two attacks matter:

* **DNS rebinding**: a page on ``evil.example`` re-points its own name at 127.0.0.1 and then talks to this
  service as "same origin". The request still carries ``Host: evil.example``, so in open mode only loopback
  ``Host`` values (``localhost``, ``127.0.0.0/8``, ``[::1]``, any port) and the names listed in
  ``security.allowed_hosts`` are served; anything else gets 421 ``bad_host``.
* **Cross-site requests**: any page may open a websocket to ``ws://127.0.0.1:8000/ws/events`` or post a form
  to ``/api/keys``. Browsers always send ``Origin`` on websocket handshakes and on cross-origin POSTs, so a
  websocket or a state-changing request (POST, PUT, PATCH, DELETE) whose ``Origin`` is present but neither
  same-origin (host and port equal to the ``Host`` header) nor listed in ``security.cors_origins`` gets 403
  ``bad_origin``. A request without ``Origin`` is not from a browser page (curl, the CLI, Twilio, tests) and
  passes.

The Origin rule applies in keys mode too: a key cannot ride along on a cross-site request anyway, so this costs
nothing, and it keeps one rule for both modes (a reverse proxy must pass the public ``Host`` header through, or
the public origin must be listed in ``security.cors_origins``). The Host rule is open mode only: with keys, a
rebound page has no key to send.

Pure ASGI (no ``BaseHTTPMiddleware``): websockets are refused before they are accepted, with an HTTP denial
response where the server supports it (uvicorn does) and a 1008 close otherwise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from assist.auth import is_loopback
from common.errors import error_body as common_error_body

log = logging.getLogger(__name__)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def split_host(value: str) -> tuple[str, int | None] | None:
    """``Host`` header -> (lower-case name, port or None); ``None`` when it is not a well-formed host."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1:]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:]
    elif value.count(":") > 1:
        return None  # a bare IPv6 address without brackets is not a valid Host
    else:
        name, _, port = value.partition(":")
    if not name or (port and (not port.isdigit() or len(port) > 5)):
        return None
    return name, int(port) if port else None


def host_allowed(value: str, extra: Iterable[str] = ()) -> bool:
    """Loopback names and addresses, or one of the operator's ``security.allowed_hosts``."""
    parsed = split_host(value)
    if parsed is None:
        return False
    name = parsed[0]
    return is_loopback(name) or name.rstrip(".") in {h.strip().lower().rstrip(".") for h in extra}


def same_origin(origin: str, host: str) -> bool:
    """The Origin's host and port equal the ``Host`` header's (the scheme is not compared: TLS may end at a proxy).

    A ``Host`` without a port matches an Origin on its scheme's default port.
    """
    try:
        parts = urlsplit(origin)
        origin_port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return False
    parsed = split_host(host)
    if not parts.hostname or parsed is None or origin_port is None:
        return False
    name, port = parsed
    if parts.hostname.lower() != name:
        return False
    return origin_port == (port if port is not None else DEFAULT_PORTS.get(parts.scheme))


def _normal(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


class OriginGuard:
    """Refuses foreign ``Host`` values (open mode) and foreign ``Origin`` values (websockets, writes)."""

    def __init__(self, app: ASGIApp, *, open_mode: bool, allowed_hosts: Iterable[str] = (),
                 allowed_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.open_mode = open_mode
        self.allowed_hosts = tuple(allowed_hosts)
        self.allowed_origins = frozenset(_normal(o) for o in allowed_origins)

    def refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        """``(status, code, message)`` when the request must be refused, else ``None``."""
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if self.open_mode and b"host" in headers and not host_allowed(host, self.allowed_hosts):
            return 421, "bad_host", ("open mode serves loopback Host names only (localhost, 127.0.0.1, [::1]); "
                                     "list others in security.allowed_hosts")
        checked = scope["type"] == "websocket" or scope.get("method") in STATE_CHANGING
        origin = headers.get(b"origin")
        if checked and origin is not None:
            value = origin.decode("latin-1")
            if _normal(value) not in self.allowed_origins and not same_origin(value, host):
                return 403, "bad_origin", "cross-origin request refused; list the origin in security.cors_origins"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, code, message = refused
        log.warning("refused %s %s: %s", scope["type"], scope.get("path", ""), code)
        if scope["type"] == "http":
            await send_error(send, status, code, message)
        else:
            await deny_websocket(scope, receive, send, status, code, message)


def error_body(code: str, message: str) -> bytes:
    return json.dumps(common_error_body(code, message)).encode()


async def send_error(send: Send, status: int, code: str, message: str) -> None:
    body = error_body(code, message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def deny_websocket(scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str) -> None:
    """Refuse a handshake before accepting it: an HTTP response with the error body, or a plain 1008 close."""
    if (await receive())["type"] != "websocket.connect":
        return
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = error_body(code, message)
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": code})
