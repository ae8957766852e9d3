"""Changes one worker makes that every other worker must apply at once, over the bus's notices.

- ``kb_changed`` (value: the knowledge-base revision): a worker whose search index changed (a `/api/kb`
  write, or its KB watcher catching up with an import) announces the revision; the others refresh their index
  from the shared knowledge store right away instead of at their watcher's next poll.
- ``key_revoked`` (value: the key id): ``DELETE /api/keys/{id}`` closes the key's sockets on this worker and
  announces it; every other worker closes its own sockets of that key (``key_revoked``, 1008).

Both are also caught by each worker's own polling (KB watcher, key watcher), so a lost notice only delays.
With the in-memory bus there is no other worker and nothing is installed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from assist.auth import Authenticator
from assist.bus import EventBus
from assist.services import Services

log = logging.getLogger(__name__)


class KnowledgeSync:
    """Announces this worker's index revisions and applies the others'. ``seen`` (the newest revision announced
    or heard of) keeps a refresh made because of a notice from being announced back."""

    def __init__(self, bus: EventBus, services: Services, loop: asyncio.AbstractEventLoop) -> None:
        self._bus = bus
        self._services = services
        self._loop = loop
        self._sending: set[asyncio.Task[None]] = set()
        self.seen = 0

    def changed_here(self) -> None:
        """A retrieval index listener: runs in whichever thread swapped the index."""
        retrieval = self._services.retrieval
        if retrieval is not None and retrieval.ready:
            self._loop.call_soon_threadsafe(self._announce, retrieval.revision)

    def _announce(self, revision: int) -> None:
        if revision <= self.seen:
            return
        self.seen = revision
        task = self._loop.create_task(self._bus.notify("kb_changed", str(revision)))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def changed_elsewhere(self, value: str) -> None:
        revision = int(value)
        self.seen = max(self.seen, revision)
        retrieval = self._services.retrieval
        if retrieval is None or not retrieval.ready or retrieval.revision >= revision:
            return  # not loaded yet (it will read the store when it is), or already there
        if await asyncio.to_thread(retrieval.refresh):
            log.info("knowledge base refreshed to revision %d (changed on another worker)", retrieval.revision)


def install(bus: EventBus, services: Services, authenticator: Authenticator,
            loop: asyncio.AbstractEventLoop) -> KnowledgeSync | None:
    """Wire the notices into this worker (at start-up, before models load); nothing for a one-process bus."""
    if not bus.distributed:
        return None
    kb = KnowledgeSync(bus, services, loop)
    services.on_index_change(kb.changed_here)
    bus.on_notice("kb_changed", kb.changed_elsewhere)

    async def key_revoked(key_id: str) -> None:
        closed = authenticator.sockets.close_key(key_id)
        log.info("api key %s revoked on another worker: %d socket(s) closed here", key_id, closed)

    bus.on_notice("key_revoked", key_revoked)
    return kb


async def announce_revocation(app: Any, key_id: str) -> None:
    """Tell the other workers that ``key_id`` was revoked here (no-op before start-up or in one process)."""
    bus: EventBus | None = getattr(app.state, "bus", None)
    if bus is not None:
        await bus.notify("key_revoked", key_id)
