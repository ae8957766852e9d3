"""Browser-facing hardening: security headers, CORS, request body limits, and log redaction.

All middleware here is pure ASGI so that websockets pass through untouched (Starlette's
``BaseHTTPMiddleware`` buffers bodies and breaks streaming). CORS is off unless origins are listed:
the widget is served by this process, so same-origin is all it needs.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asr.audio import SAMPLE_RATE
from assist.events import ErrorCode
from assist.http_auth import HttpAuth
from assist.origin_guard import OriginGuard
from common.errors import error_body
from config import SecuritySettings, Settings

log = logging.getLogger(__name__)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
       "connect-src 'self' {ws}; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")

BASE_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"x-frame-options": b"DENY",
    b"cross-origin-opener-policy": b"same-origin",
    b"permissions-policy": b"camera=(), geolocation=(), microphone=(self)",
}


def content_security_policy(host: str) -> str:
    """'self' alone does not cover ws:// in every browser, so the widget's own host is named for sockets."""
    ws = f"ws://{host} wss://{host}" if host and re.fullmatch(r"[A-Za-z0-9.\-:\[\]]{1,255}", host) else ""
    return CSP.format(ws=ws).replace("  ", " ")


class SecurityHeaders:
    """Adds the widget's CSP and the usual hardening headers to every HTTP response."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        extra = {**BASE_HEADERS, b"content-security-policy": content_security_policy(host).encode()}
        if self.hsts:
            extra[b"strict-transport-security"] = b"max-age=31536000"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k, v) for k, v in extra.items() if k not in present)]
            await send(message)

        await self.app(scope, receive, with_headers)


UPLOAD_ROUTE = ("POST", "/api/kb/import")


class BodyLimit:
    """413 ``payload_too_large`` for bodies over the limit, whether declared (Content-Length) or streamed.

    Only the KB import route (``UPLOAD_ROUTE``) gets ``max_upload_bytes``; every other body, whatever its
    content type, ``max_json_bytes``. Runs after ``HttpAuth``, so only an authorized request is buffered.
    """

    def __init__(self, app: ASGIApp, *, max_json_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_json = max_json_bytes
        self.max_upload = max_upload_bytes

    def limit_for(self, scope: Scope) -> int:
        if (scope["method"], scope["path"]) == UPLOAD_ROUTE:
            return self.max_upload + 65_536  # multipart framing around a file of the full upload size
        return self.max_json

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        limit = self.limit_for(scope)
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        if declared.isdigit():  # the server enforces the declared length, so checking it is enough
            await self.app(scope, receive, send)
            return
        body = bytearray()  # chunked: read it all (bounded), then hand it on
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await _too_large(send, limit)
                return
            if not message.get("more_body"):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(error_body("payload_too_large", f"request bodies are limited to {limit} bytes")).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def install(app: FastAPI, settings: Settings) -> None:
    """Order matters (the last added runs first): Host/Origin guard, CORS preflights, headers, auth, limits."""
    server = settings.server
    app.add_middleware(BodyLimit, max_json_bytes=server.max_json_bytes, max_upload_bytes=server.max_upload_bytes)
    app.add_middleware(HttpAuth)  # authenticates from the headers before BodyLimit reads any body
    app.add_middleware(SecurityHeaders, hsts=settings.security.hsts)
    origins = list(settings.security.cors_origins)
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"], max_age=600)
    # outermost: foreign Host (open mode) and foreign Origin are refused before anything reads the request
    app.add_middleware(OriginGuard, open_mode=settings.auth.mode == "open",
                       allowed_hosts=settings.security.allowed_hosts, allowed_origins=origins)


# ---------------------------------------------------------------- logs


_TOKEN = re.compile(r"aa_[A-Za-z0-9]{4,16}_[A-Za-z0-9_\-]{8,}|(?i:bearer)\s+[A-Za-z0-9._~+/\-]{8,}=*")


class RedactingFilter(logging.Filter):
    """Last line of defence: masks API keys and personal data in every record before it is written.

    The live path masks transcripts before logging anything; this catches what slips through (an
    exception message quoting a request, a third-party logger).
    """

    def __init__(self, mask: Callable[[str, str], str] | None = None) -> None:
        super().__init__()
        self.mask = mask

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's problem to report, not ours
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        return True

    def redact(self, text: str) -> str:
        text = _TOKEN.sub("[REDACTED]", text)
        if self.mask is not None and any(ch.isdigit() or ch == "@" or "\u3000" <= ch for ch in text):
            text = self.mask(text, "ja" if re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text) else "en")
        return text


def install_log_redaction(mask: Callable[[str, str], str] | None = None) -> None:
    """Attach the filter to every root handler (uvicorn's loggers propagate to root with log_config=None)."""
    if mask is None:
        from summarize.pii import mask_pii as mask
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(mask))



class MessageRate:
    """Token bucket: ``rate`` units a second sustained, ``burst`` above it (messages, or seconds of audio)."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.clock = clock
        self.last = clock()

    def allow(self, cost: float = 1.0) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True


Limit = tuple[ErrorCode, str]  # (error code, message for people)


class SocketGuard:
    """The limits of one audio socket: message rate, audio speed per leg, start and idle timeouts, call length.

    Audio is refused here, before it reaches a queue. The timeouts are deadlines: the socket loop waits at most
    ``wait_s()`` for a message and then asks ``expired()``, so they fire even when the client sends nothing.
    """

    def __init__(self, settings: SecuritySettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.rate = MessageRate(settings.max_messages_per_s, settings.message_burst, clock)
        self.max_call_s = settings.max_call_s
        self.clock = clock
        self.opened = clock()
        self.started: float | None = None
        self.last_audio = self.opened
        self.audio: dict[str, float] = {}  # seconds received per leg
        self.speed: dict[str, MessageRate] = {}  # seconds of audio per leg, at most max_audio_speed × real time

    @property
    def audio_s(self) -> float:
        return max(self.audio.values(), default=0.0)

    def start(self, elapsed_s: float = 0.0) -> None:
        """The stream started; ``elapsed_s`` is how long its call has been live already (a second leg, a reconnect)."""
        now = self.clock()
        self.started = now - max(0.0, elapsed_s)
        self.last_audio = now

    def add_audio(self, samples: float, sample_rate: int = SAMPLE_RATE, leg: str = "") -> Limit | None:
        """Count ``samples`` of ``leg``; ``audio_too_fast`` (nothing counted) when they outrun the bucket."""
        if samples <= 0:
            return None
        seconds = samples / sample_rate
        bucket = self.speed.get(leg)
        if bucket is None:
            bucket = self.speed[leg] = MessageRate(self.settings.max_audio_speed, self.settings.audio_burst_s,
                                                   self.clock)
        if not bucket.allow(seconds):
            return "audio_too_fast", (f"audio arrives faster than {bucket.rate:g}x real time (beyond a "
                                      f"{bucket.burst:g} s burst); send it as it is spoken")
        self.last_audio = self.clock()
        self.audio[leg] = self.audio.get(leg, 0.0) + seconds
        return None

    def check(self) -> Limit | None:
        """``(code, message)`` of the first limit this message breaks, else ``None``."""
        if not self.rate.allow():
            return "rate_limited", f"more than {self.rate.rate:g} messages a second"
        if self.started is not None and max(self.clock() - self.started, self.audio_s) > self.max_call_s:
            return "call_too_long", f"calls are limited to {self.max_call_s:g} s"
        return None

    def _deadline(self) -> tuple[float, ErrorCode, str]:
        s = self.settings
        if self.started is None:
            return self.opened + s.start_timeout_s, "start_timeout", f"no start message within {s.start_timeout_s:g} s"
        idle: tuple[float, ErrorCode, str] = (self.last_audio + s.idle_audio_s, "idle_timeout",
                                              f"no audio for {s.idle_audio_s:g} s")
        too_long: tuple[float, ErrorCode, str] = (self.started + self.max_call_s, "call_too_long",
                                                  f"calls are limited to {self.max_call_s:g} s")
        return min(idle, too_long)

    def wait_s(self) -> float:
        """How long the socket may wait for its next message before a deadline passes."""
        return max(0.0, self._deadline()[0] - self.clock())

    def expired(self) -> Limit | None:
        """``(code, message)`` of the deadline that has passed (start, idle audio, call length), else ``None``."""
        when, code, message = self._deadline()
        return (code, message) if self.clock() >= when else None
