"""Open websockets by the API key that authenticated them, so that revoking a key closes them.

``DELETE /api/keys/{id}`` closes the key's sockets at once. A key revoked by ``assist keys revoke`` (another
process, the same database) is noticed by a watcher that re-reads the keys of open sockets every
``interval_s`` while any keyed socket is open. Either way each socket gets an ``error`` event with code
``key_revoked`` and is closed with 1008; an audio socket's call then ends as on a disconnect (notes written).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Iterable

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from assist.events import ErrorCode, ErrorEvent

log = logging.getLogger(__name__)

REVOKED: ErrorCode = "key_revoked"
CHECK_INTERVAL_S = 1.0


def _gone(ws: WebSocket) -> bool:
    return WebSocketState.DISCONNECTED in (ws.client_state, ws.application_state)


def _accepted(ws: WebSocket) -> bool:
    return ws.application_state == WebSocketState.CONNECTED and ws.client_state == WebSocketState.CONNECTED


class SocketRegistry:
    """Every method runs on the app's event loop; ``active_ids`` (a blocking read of the key store) runs in a thread."""

    def __init__(self, active_ids: Callable[[Iterable[str]], set[str]], interval_s: float = CHECK_INTERVAL_S) -> None:
        self._active_ids = active_ids
        self.interval_s = interval_s
        self._sockets: dict[str, weakref.WeakSet[WebSocket]] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def add(self, key_id: str, ws: WebSocket) -> None:
        """Remember a socket authenticated with ``key_id``; starts the revocation watcher if it is not running."""
        self._sockets.setdefault(key_id, weakref.WeakSet()).add(ws)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="key-revocation-watch")

    def open_sockets(self, key_id: str) -> int:
        return sum(1 for ws in self._sockets.get(key_id, ()) if not _gone(ws))

    def close_key(self, key_id: str) -> int:
        """Close the accepted sockets of a revoked key (in the background: a client slow to answer the close
        must not hold the caller); how many. Sockets not accepted yet are closed by the watcher's next pass."""
        sockets = self._sockets.get(key_id)
        if not sockets:
            return 0
        ready = [ws for ws in sockets if _accepted(ws)]
        for ws in [*ready, *(ws for ws in sockets if _gone(ws))]:
            sockets.discard(ws)
        if not sockets:
            self._sockets.pop(key_id, None)
        for ws in ready:
            task = asyncio.get_running_loop().create_task(_close_revoked(ws))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        if ready:
            log.info("api key %s revoked: closing %d open socket(s)", key_id, len(ready))
        return len(ready)

    def _prune(self) -> list[str]:
        for key_id in list(self._sockets):
            sockets = self._sockets[key_id]
            for ws in [ws for ws in sockets if _gone(ws)]:
                sockets.discard(ws)
            if not sockets:
                del self._sockets[key_id]
        return list(self._sockets)

    async def _watch(self) -> None:
        """Re-check the keys of open sockets until none is left (revocations made by other processes)."""
        while key_ids := self._prune():
            try:
                active = await asyncio.to_thread(self._active_ids, key_ids)
            except Exception:  # a locked or closing database: try again on the next pass
                log.warning("could not re-check the keys of open sockets", exc_info=True)
                active = set(key_ids)
            for key_id in key_ids:
                if key_id not in active:
                    self.close_key(key_id)
            await asyncio.sleep(self.interval_s)

    def close(self) -> None:
        """Stop the watcher (the app is shutting down)."""
        if self._watcher is not None:
            self._watcher.cancel()


async def _close_revoked(ws: WebSocket) -> None:
    event = ErrorEvent(call_id=ws.path_params.get("call_id", "*"), code=REVOKED,
                       message="the API key of this connection was revoked", fatal=True)
    try:
        await ws.send_text(event.model_dump_json())
        await ws.close(1008, REVOKED)
    except (RuntimeError, WebSocketDisconnect, OSError):  # the handler closed it meanwhile
        pass
