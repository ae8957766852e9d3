"""REST for the supervisor console (``/supervisor``): the recently ended calls with their notes, in one request.

The live calls come from the supervisor wall (``WS /ws/events``); what ended before the page opened comes from
here. Both need ``calls:watch`` (supervisor, admin), so this is also the page's check that its key may watch:
an agent's key gets 403 ``forbidden`` here before the page opens any socket.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request

from assist.store import CallStore

router = APIRouter(prefix="/api/supervisor", tags=["supervisor"])
ENDED_STATES = ("ended", "interrupted")  # a call whose worker died ends `interrupted`, with notes all the same


def recent_calls(store: CallStore, limit: int) -> list[dict[str, Any]]:
    """Calls that ended (or were interrupted), latest end first, each with its notes (the agent's edit when there
    is one, else the generated notes; ``None`` while they are being written). The store lists by start time: of
    the ``limit`` latest-started ended calls, so a very long call may give way to newer short ones."""
    rows = [r for state in ENDED_STATES for r in store.list_calls(limit=limit, state=state)]
    rows.sort(key=lambda r: r.ended or r.started, reverse=True)
    out = []
    for row in rows[:limit]:
        summary = store.summary(row.id)
        out.append({**row.to_dict(), "notes": summary["notes"] if summary else None,
                    "edited": bool(summary and summary["edited"])})
    return out


@router.get("/recent", summary="Recently ended calls with their notes (the supervisor console's list)")
async def recent(request: Request, limit: int = Query(10, ge=1, le=100)) -> dict[str, Any]:
    store: CallStore = request.app.state.call_store
    return {"calls": await asyncio.to_thread(recent_calls, store, limit), "limit": limit}
