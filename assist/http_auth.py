"""Authentication at the ASGI edge: an HTTP request is refused before a byte of its body is read.

FastAPI runs the ``authorize`` dependency only after it has read and parsed the body, so without this
layer an anonymous client could make the server buffer (and parse) a full-size body. ``HttpAuth`` looks
up the route the request will reach, takes its permission from ``assist.auth.POLICY``, and checks the
``Authorization: Bearer`` key and role from the headers alone; only then is the request passed on (to
``BodyLimit`` and the app, where the dependency checks again and adds per-call ownership). Websockets
pass through untouched: their handshake carries no body, and they may authenticate by first message.

The API documentation (``/openapi.json``, ``/docs``, ``/redoc``) needs a valid key of any role in
``keys`` mode; in ``open`` mode everything passes, as it does for the dependency.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from assist.auth import POLICY, Authenticator, AuthError, _bearer
from common.errors import error_body

log = logging.getLogger(__name__)

ANY_KEY = "any-key"  # the docs: any valid key, whatever its role


class HttpAuth:
    """Pure ASGI: refuse unauthenticated or unauthorized HTTP requests from their headers alone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._table: list[tuple[Any, str | None]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        app: FastAPI = scope["app"]
        auth: Authenticator | None = getattr(app.state, "auth", None)
        if auth is not None and not auth.open:
            try:
                permission = self.permission(app, scope)
                if permission not in (None, "public"):
                    await _check(auth, scope, permission)
            except AuthError as err:
                await _refuse(scope, send, err)
                return
        await self.app(scope, receive, send)

    def permission(self, app: FastAPI, scope: Scope) -> str | None:
        """The permission the route this request reaches needs; ``None`` when no route takes it whole
        (the router answers 404/405 without reading the body) or for the static widget."""
        for route, docs_path in self._routes(app):
            match, _ = route.matches(scope)
            if match != Match.FULL:
                continue
            if docs_path is not None:
                return ANY_KEY
            if isinstance(route.original_route, APIRoute):
                key = f"{scope['method']} {route.path}"
                if key not in POLICY:
                    log.error("no auth policy for %s; refusing", key)
                    raise AuthError(403, "no_policy", "this endpoint has no access policy")
                return POLICY[key]
            if isinstance(route.original_route, Mount):
                return None  # the widget's static files: public, it shows the login field
            raise AuthError(403, "no_policy", "this endpoint has no access policy")
        return None

    def _routes(self, app: FastAPI) -> list[tuple[Any, str | None]]:
        """(route context, docs path or None), in the router's order; built once, routes are fixed by now."""
        if self._table is None:
            docs = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url} - {None}
            self._table = [(ctx, ctx.path if ctx.path in docs and not isinstance(ctx.original_route, APIRoute)
                            else None) for ctx in iter_route_contexts(app.routes)]
        return self._table


async def _check(auth: Authenticator, scope: Scope, permission: str) -> None:
    token = _bearer(HTTPConnection(scope))
    if token is None:
        raise AuthError(401, "unauthorized", "an API key is required: Authorization: Bearer <key>")
    principal = await auth.verify(token)
    if permission != ANY_KEY and principal.scope(permission) is None:
        raise AuthError(403, "forbidden", f"role {principal.role} may not use this endpoint ({permission})")


async def _refuse(scope: Scope, send: Send, err: AuthError) -> None:
    """The project's error body; the connection is closed when a body may follow, since it is never read."""
    body = json.dumps(err.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if err.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    request_headers = dict(scope.get("headers") or [])
    if request_headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in request_headers:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large"}


async def http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Starlette/FastAPI's own HTTP errors (unknown path, wrong method, an unparsable body) in the
    project's error shape. A body FastAPI could not parse (e.g. JSON nested too deep) is ``bad_json``."""
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError | ValueError):
        code = "bad_json"
    message = exc.detail if isinstance(exc.detail, str) else "the request was refused"
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)
