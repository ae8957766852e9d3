"""The two proofs a Twilio Media Stream can give: the handshake signature and, in keys mode, a stream token.

* **Signature** (``twilio.auth_token`` set): Twilio signs the websocket handshake like any webhook
  (https://www.twilio.com/docs/usage/webhooks/webhooks-security): base64(HMAC-SHA1(auth token, full URL + the
  sorted POST parameters)) in ``X-Twilio-Signature``; a handshake has no parameters, so only the URL is signed,
  as ``wss://host/path``. Behind a TLS proxy the service cannot know that URL for sure, so it accepts the URL
  rebuilt from the ``Host`` header (with and without the default port, as Twilio's own validators do) and
  ``twilio.stream_url`` when set. A missing or wrong signature is refused before the socket is accepted: 403
  ``bad_signature``.
* **Stream token** (keys mode): Twilio cannot send an ``Authorization`` header or our ``auth`` message, and it
  drops query strings from stream URLs. What it can send is ``<Parameter name="token" value="aa_…"/>`` inside
  ``<Stream>``, which arrives in the ``start`` event's ``customParameters``. So ``WS /twilio/media`` is a deferred
  route (``assist.auth.DEFERRED``): without a header key, the handler waits up to ``auth.ws_auth_timeout_s`` for
  ``start`` (``connected`` may come first), verifies ``customParameters.token`` with the key store, and refuses
  anything else with ``unauthorized`` and close 1008. The token is never stored in the call's metadata.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from starlette.types import Message

from assist import auth
from assist.origin_guard import split_host
from common.errors import error_body
from common.jsonsafe import safe_json_loads
from config import Settings, TwilioSettings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-twilio-signature"
TOKEN_PARAMETER = "token"
MAX_PRESTART_BYTES = 65_536  # connected / start are a few hundred bytes


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str] | None = None) -> str:
    """Twilio's request signature: base64 HMAC-SHA1 of the URL followed by each sorted parameter's name and value."""
    params = params or {}
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def signed_urls(ws: WebSocket, settings: TwilioSettings) -> list[str]:
    """The URLs Twilio may have signed for this handshake (see the module docstring)."""
    host = ws.headers.get("host", "")
    raw = ws.scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else ws.scope.get("path", "/")
    query = ws.scope.get("query_string", b"").decode("latin-1")
    suffix = path + (f"?{query}" if query else "")
    parsed = split_host(host)
    hosts = [host]
    if parsed is not None and parsed[1] == 443:
        hosts.append(host.removesuffix(":443"))
    elif parsed is not None and parsed[1] is None:
        hosts.append(f"{host}:443")
    urls = [settings.stream_url] if settings.stream_url else []
    return urls + [f"wss://{h}{suffix}" for h in hosts if h]


def signature_valid(ws: WebSocket, settings: TwilioSettings) -> bool:
    """Whether ``X-Twilio-Signature`` verifies; true when no auth token is configured."""
    if settings.auth_token is None:
        return True
    given = ws.headers.get(SIGNATURE_HEADER, "")
    token = settings.auth_token.get_secret_value()
    return bool(given) and any(hmac.compare_digest(twilio_signature(token, url), given)
                               for url in signed_urls(ws, settings))


async def check_signature(ws: WebSocket, settings: TwilioSettings) -> bool:
    """Refuse the handshake (403 ``bad_signature``, before accepting) when the signature does not verify."""
    if signature_valid(ws, settings):
        return True
    log.warning("twilio stream refused: X-Twilio-Signature missing or invalid")
    body = error_body("bad_signature", "X-Twilio-Signature is missing or does not verify")
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(JSONResponse(body, status_code=403))
    else:
        await ws.close(auth.POLICY_CLOSE, "bad_signature")
    return False


async def _start_token(ws: WebSocket, timeout_s: float) -> tuple[str, Message]:
    """Read up to the ``start`` event (``connected`` may precede it) within ``timeout_s``; its token and itself."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            msg = await asyncio.wait_for(ws.receive(), max(deadline - loop.time(), 0.0))
        except TimeoutError as exc:
            raise auth.AuthError(401, "unauthorized", f"no start event with a token within {timeout_s:g} s") from exc
        if msg["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(msg.get("code", 1000))
        data = _small_json(msg.get("text"))
        if data.get("event") == "connected":
            continue
        params = data.get("start", {}).get("customParameters") if data.get("event") == "start" else None
        token = params.get(TOKEN_PARAMETER) if isinstance(params, dict) else None
        if not isinstance(token, str):
            raise auth.AuthError(401, "unauthorized", 'a Twilio stream authenticates with <Parameter name="token"> '
                                 "(start.customParameters.token) or an Authorization header")
        return token, msg


def _small_json(text: str | None) -> dict[str, Any]:
    """A message before authentication as a dict; binary, oversized, deep or non-JSON ones as ``{}`` (refused)."""
    if text is None or len(text) > MAX_PRESTART_BYTES:
        return {}
    try:
        data = safe_json_loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) and isinstance(data.get("start", {}), dict) else {}


async def authenticate_stream(ws: WebSocket, settings: Settings) -> list[Message]:
    """In keys mode without a header key: authenticate from the start event and return it for the caller to
    handle. Open mode and header-authenticated streams return nothing to replay. Failures close the socket (1008).
    """
    if not auth.is_pending(ws):
        return []
    try:
        token, start = await _start_token(ws, settings.auth.ws_auth_timeout_s)
        await auth.resolve_deferred(ws, token)
    except auth.AuthError as err:
        await auth.refuse_socket(ws, err)  # raises: the socket is closed with 1008
        raise
    return [start]
